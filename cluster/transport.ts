/**
 * Node transport: one long-lived bidi gRPC stream per node pair (the node whose
 * id sorts first dials), carrying batches of envelopes {target, sender,
 * correlation id, kind, JSON payload}. Envelopes sent in one event-loop turn go
 * out as one batch (at most [cluster] batch_max). A peer whose stream is slow
 * (write() says wait) or down keeps its envelopes queued up to
 * [cluster] peer_queue_max envelopes and peer_queue_max_bytes of payload; beyond that tell and ask fail with QUEUE_FULL, so a
 * slow peer pushes back on its senders instead of growing memory. A broken
 * stream is dialled again with backoff (100 ms doubling to 5 s); asks waiting
 * on it fail at once with NODE_UNREACHABLE.
 */
import { timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { HubError, errorMessage, isErrorCode, toHubError } from '../src/errors/index.js';
import type { Logger } from '../src/log/logger.js';
import { clusterProto } from './proto.js';
import {
  PeerLink,
  decode,
  encode,
  RECONNECT_MAX_MS,
  type Envelope,
  type EnvelopeKind,
  type Frame,
  type PeerStats,
} from './peer-link.js';

export type { Envelope, EnvelopeKind, PeerStats } from './peer-link.js';

/** What a target does with a message: the value (or promise) it returns answers an ask. */
export type TargetHandler = (payload: unknown, ctx: { sender: string; ask: boolean }) => unknown;

export interface PeerAddress {
  node_id: string;
  address: string;
  grpc_port: number;
}

export interface TransportOptions {
  nodeId: string;
  log: Logger;
  batchMax: number;
  queueMax: number;
  /** Payload bytes queued for one peer before sends fail with QUEUE_FULL. */
  queueMaxBytes: number;
  askTimeoutMs: number;
  maxMessageBytes: number;
  keepaliveMs: number;
  /** With security on: the shared key every node presents (x-hive-cluster-key), derived from the JWT secret. */
  clusterKey?: string | undefined;
}

interface PendingAsk {
  node: string;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

export class NodeTransport {
  private readonly links = new Map<string, PeerLink>();
  private readonly targets = new Map<string, TargetHandler>();
  private readonly pending = new Map<number, PendingAsk>();
  private seq = 0;
  private epoch = 0;
  private closed = false;
  private readonly counts = { unknown_target: 0, handler_errors: 0 };

  constructor(private readonly o: TransportOptions) {}

  get nodeId(): string {
    return this.o.nodeId;
  }

  /** This node's membership epoch, sent in Hello. */
  setEpoch(epoch: number): void {
    this.epoch = epoch;
  }

  /** Serves `target` on this node for every peer. */
  expose(target: string, handler: TargetHandler): void {
    this.targets.set(target, handler);
  }

  /** The gRPC implementation of ClusterService (added to the node's gRPC server). */
  service(): { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation } {
    return {
      definition: clusterProto().service,
      implementation: { Link: (stream: grpc.ServerDuplexStream<Frame, Frame>) => this.accept(stream) },
    };
  }

  /**
   * The live members other than this node: links to new ones are made (dialled
   * when this node's id sorts first), links to ones gone (dead, left) are closed.
   */
  setPeers(peers: readonly PeerAddress[]): void {
    if (this.closed) return;
    const live = new Set<string>();
    for (const p of peers) {
      if (p.node_id === this.o.nodeId) continue;
      live.add(p.node_id);
      const link = this.link(p.node_id);
      const address = `${p.address.includes(':') ? `[${p.address}]` : p.address}:${p.grpc_port}`;
      if (this.o.nodeId < p.node_id && (link.client === undefined || link.address !== address)) {
        link.address = address;
        this.dial(link);
      }
    }
    for (const [node, link] of this.links)
      if (!live.has(node)) this.closeLink(node, link, `node ${node} left the cluster or was declared dead`);
  }

  tell(node: string, target: string, payload: unknown): void {
    this.requireLink(node).enqueue({
      target,
      sender: this.o.nodeId,
      correlation_id: 0,
      kind: 'TELL',
      payload: encode(payload),
    });
  }

  /** Sends to every peer with a link (or those `to` accepts); a peer whose queue is full or that is gone is skipped. */
  broadcast(target: string, payload: unknown, to?: (node: string) => boolean): number {
    const bytes = encode(payload);
    let n = 0;
    for (const link of this.links.values()) {
      if (to !== undefined && !to(link.node)) continue;
      try {
        link.enqueue({ target, sender: this.o.nodeId, correlation_id: 0, kind: 'TELL', payload: bytes });
        n++;
      } catch {
        // a slow or gone peer: events for observers are best effort
      }
    }
    return n;
  }

  ask<R>(node: string, target: string, payload: unknown, timeoutMs = this.o.askTimeoutMs): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const link = this.requireLink(node);
      const id = (this.seq = (this.seq % Number.MAX_SAFE_INTEGER) + 1);
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new HubError('ACTOR_TIMEOUT', `node ${node} did not answer ${target} within ${timeoutMs} ms`, {
            details: { node_id: node, target, timeout_ms: timeoutMs },
          }),
        );
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { node, resolve: resolve as (v: unknown) => void, reject, timer });
      try {
        link.enqueue({ target, sender: this.o.nodeId, correlation_id: id, kind: 'ASK', payload: encode(payload) });
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(toHubError(err));
      }
    });
  }

  /** Nodes with a stream up now. */
  connectedPeers(): string[] {
    return [...this.links.values()].filter((l) => l.stream !== undefined).map((l) => l.node);
  }

  stats(): { peers: PeerStats[]; pending_asks: number; unknown_target: number; handler_errors: number } {
    const peers = [...this.links.values()].map((l) => ({
      node_id: l.node,
      connected: l.stream !== undefined,
      queued: l.queue.length,
      ...l.counts,
    }));
    return { peers, pending_asks: this.pending.size, ...this.counts };
  }

  close(): void {
    this.closed = true;
    for (const [node, link] of this.links) this.closeLink(node, link, 'this node is stopping');
  }

  private requireLink(node: string): PeerLink {
    const link = this.links.get(node);
    if (link === undefined || link.closed)
      throw new HubError('NODE_UNREACHABLE', `node ${node} is not a live member of the cluster`, {
        details: { node_id: node },
      });
    return link;
  }

  private link(node: string): PeerLink {
    let link = this.links.get(node);
    if (link === undefined) {
      link = new PeerLink(node, this.o.batchMax, this.o.queueMax, this.o.queueMaxBytes);
      this.links.set(node, link);
    }
    return link;
  }

  private closeLink(node: string, link: PeerLink, reason: string): void {
    link.closed = true;
    this.links.delete(node);
    if (link.reconnectTimer !== undefined) clearTimeout(link.reconnectTimer);
    const stream = link.stream;
    link.stream = undefined;
    if (stream !== undefined && 'cancel' in stream) stream.cancel();
    else stream?.end();
    link.client?.close();
    link.queue = [];
    this.failAsks(node, reason);
  }

  private failAsks(node: string, reason: string): void {
    for (const [id, p] of this.pending) {
      if (p.node !== node) continue;
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new HubError('NODE_UNREACHABLE', `node ${node}: ${reason}`, { details: { node_id: node } }));
    }
  }

  private dial(link: PeerLink): void {
    link.client?.close();
    const Client = clusterProto().Client;
    const client = new Client(link.address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': this.o.maxMessageBytes,
      'grpc.max_send_message_length': this.o.maxMessageBytes,
      'grpc.keepalive_time_ms': this.o.keepaliveMs,
      'grpc.keepalive_permit_without_calls': 1,
    });
    link.client = client;
    const metadata = new grpc.Metadata();
    if (this.o.clusterKey !== undefined) metadata.set('x-hive-cluster-key', this.o.clusterKey);
    const stream = (client as unknown as { Link: (m: grpc.Metadata) => grpc.ClientDuplexStream<Frame, Frame> }).Link(
      metadata,
    );
    let ended = false;
    stream.on('data', (f: Frame) => {
      if (f.hello !== undefined) {
        link.attach(stream);
        this.o.log.info(
          { event: 'cluster.link_up', peer: link.node, peer_epoch: f.hello.epoch },
          `linked to node ${link.node} at ${link.address}`,
        );
      } else if (f.batch !== undefined) this.receive(link, f.batch.envelopes);
    });
    const gone = (err?: Error): void => {
      if (ended) return;
      ended = true;
      if (link.detach(stream)) this.failAsks(link.node, `the link broke (${err?.message ?? 'stream ended'})`);
      if (link.closed || this.closed || link.client !== client) return;
      client.close();
      link.client = undefined;
      link.counts.reconnects++;
      const delay = link.backoffMs;
      link.backoffMs = Math.min(RECONNECT_MAX_MS, link.backoffMs * 2);
      link.reconnectTimer = setTimeout(() => {
        link.reconnectTimer = undefined;
        if (!link.closed && !this.closed && link.client === undefined) this.dial(link);
      }, delay);
      link.reconnectTimer.unref();
    };
    stream.on('error', gone);
    stream.on('end', () => gone());
    stream.write({ hello: { node_id: this.o.nodeId, epoch: this.epoch } });
  }

  private accept(stream: grpc.ServerDuplexStream<Frame, Frame>): void {
    if (this.o.clusterKey !== undefined && !sameKey(stream.metadata.get('x-hive-cluster-key')[0], this.o.clusterKey)) {
      this.o.log.warn(
        { module: 'security', event: 'security.cluster_link_refused', peer: stream.getPeer() },
        'security: a cluster link without the right cluster key was refused',
      );
      stream.emit(
        'error',
        Object.assign(new Error('cluster link refused: wrong or missing x-hive-cluster-key'), {
          code: grpc.status.UNAUTHENTICATED,
        }),
      );
      return;
    }
    let link: PeerLink | undefined;
    stream.on('data', (f: Frame) => {
      if (link === undefined) {
        if (f.hello === undefined || f.hello.node_id === '' || this.closed) {
          stream.emit(
            'error',
            Object.assign(new Error('the first frame must be Hello with a node id'), {
              code: grpc.status.INVALID_ARGUMENT,
            }),
          );
          return;
        }
        link = this.link(f.hello.node_id);
        link.attach(stream);
        stream.write({ hello: { node_id: this.o.nodeId, epoch: this.epoch } });
        this.o.log.info(
          { event: 'cluster.link_up', peer: link.node, peer_epoch: f.hello.epoch },
          `node ${link.node} linked to this node`,
        );
        return;
      }
      if (f.batch !== undefined) this.receive(link, f.batch.envelopes);
    });
    const gone = (): void => {
      if (link?.detach(stream) === true) this.failAsks(link.node, 'the link broke');
    };
    stream.on('end', () => {
      gone();
      stream.end();
    });
    stream.on('error', gone);
    stream.on('cancelled', gone);
  }

  private receive(link: PeerLink, envelopes: readonly Envelope[]): void {
    link.counts.received += envelopes.length;
    for (const e of envelopes) {
      switch (e.kind) {
        case 'TELL':
        case 'ASK':
          this.deliver(link, e);
          break;
        case 'REPLY':
        case 'FAILURE':
          this.settle(e);
          break;
      }
    }
  }

  private deliver(link: PeerLink, e: Envelope): void {
    const handler = this.targets.get(e.target);
    const ask = e.kind === 'ASK';
    const answer = (kind: EnvelopeKind, payload: unknown): void => {
      if (!ask) return;
      try {
        link.enqueue({
          target: '',
          sender: this.o.nodeId,
          correlation_id: e.correlation_id,
          kind,
          payload: encode(payload),
        });
      } catch {
        // the link is gone or full: the asker times out
      }
    };
    if (handler === undefined) {
      this.counts.unknown_target++;
      answer('FAILURE', { code: 'NOT_FOUND', message: `node ${this.o.nodeId} has no target ${e.target}` });
      return;
    }
    void Promise.resolve()
      .then(() => handler(decode(e.payload), { sender: e.sender, ask }))
      .then(
        (value) => answer('REPLY', value ?? null),
        (err: unknown) => {
          const h = toHubError(err);
          if (!ask) {
            this.counts.handler_errors++;
            this.o.log.warn(
              { err, target: e.target, sender: e.sender },
              `a message from node ${e.sender} to ${e.target} failed: ${errorMessage(err)}`,
            );
          }
          answer('FAILURE', { code: h.code, message: h.message, details: h.details ?? null });
        },
      );
  }

  private settle(e: Envelope): void {
    const p = this.pending.get(e.correlation_id);
    if (p === undefined) return; // timed out already
    this.pending.delete(e.correlation_id);
    clearTimeout(p.timer);
    const value = decode(e.payload);
    if (e.kind === 'REPLY') p.resolve(value);
    else {
      const f = (value ?? {}) as { code?: string; message?: string; details?: Record<string, unknown> | null };
      p.reject(
        new HubError(
          f.code !== undefined && isErrorCode(f.code) ? f.code : 'INTERNAL',
          f.message ?? `node ${e.sender} failed`,
          f.details ? { details: f.details } : {},
        ),
      );
    }
  }
}

function sameKey(given: unknown, expected: string): boolean {
  if (typeof given !== 'string' || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}
