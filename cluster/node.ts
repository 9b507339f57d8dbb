/**
 * This node's place in the cluster: membership (join, heartbeats, failure
 * detection), the transport to the other nodes, and event forwarding, so that
 * observers on any node see every node's task, agent and hive events.
 */
import { createHash } from 'node:crypto';
import type { HubConfig } from '../src/config/index.js';
import { HubError } from '../src/errors/index.js';
import type { Logger } from '../src/log/logger.js';
import { EVENT_TOPICS, type EventBus, type EventTopic, type ReplyTo } from '../src/runtime/index.js';
import type { Member, MemberAddress, MembershipStore } from '../src/storage/index.js';
import { Membership } from './membership.js';
import { Prober } from './probe.js';
import { remoteRef } from './remote-ref.js';
import { NodeTransport } from './transport.js';

export interface ClusterNodeOptions {
  config: HubConfig;
  store: MembershipStore;
  log: Logger;
  events: EventBus;
  /** Declared dead: stop claiming (the leases are gone). */
  onEvicted: (reason: string) => void;
  /** Rejoined with a new epoch: claim again. */
  onRejoined: (epoch: number) => void;
  /** A task was cancelled through another node: stop it here if it runs here. */
  onCancelled: (taskId: string, node: string) => void;
}

interface ForwardedEvent {
  topic: EventTopic;
  type: string;
  data: unknown;
  timestamp: string;
}

const FORWARDED_TOPICS = new Set<EventTopic>(['tasks', 'agents', 'hive']);

function isForwardedEvent(value: unknown): value is ForwardedEvent {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    typeof e['type'] === 'string' &&
    typeof e['timestamp'] === 'string' &&
    (EVENT_TOPICS as readonly unknown[]).includes(e['topic'])
  );
}

export class ClusterNode {
  readonly transport: NodeTransport;
  private membership: Membership | undefined;
  private readonly prober: Prober;
  private outbox: ForwardedEvent[] = [];
  private stopForwarding: (() => void) | undefined;
  private readonly c = { events_forwarded: 0, events_received: 0 };
  /** Peers that have observers of events now (they said so); events are forwarded only to them. */
  private readonly interested = new Set<string>();
  private stopObserving: (() => void) | undefined;
  private stopCancels: (() => void) | undefined;
  private readonly rejoinListeners: Array<(epoch: number) => void> = [];

  constructor(private readonly o: ClusterNodeOptions) {
    const c = o.config.cluster;
    this.transport = new NodeTransport({
      nodeId: c.node_id,
      log: o.log,
      batchMax: c.batch_max,
      queueMax: c.peer_queue_max,
      queueMaxBytes: c.peer_queue_max_bytes,
      askTimeoutMs: c.ask_timeout_ms,
      maxMessageBytes: o.config.grpc.max_message_bytes,
      keepaliveMs: o.config.grpc.keepalive_time_ms,
      clusterKey: o.config.security.enabled
        ? createHash('sha256').update(`hive-cluster:${o.config.security.jwt_secret}`).digest('hex')
        : undefined,
    });
    this.prober = new Prober(c.probe_timeout_ms);
    this.transport.expose('events', (payload, ctx) => this.receiveEvents(payload, ctx.sender));
    this.transport.expose('interest', (payload, ctx) => {
      if (payload === true) this.interested.add(ctx.sender);
      else this.interested.delete(ctx.sender);
    });
    this.transport.expose('cancelled', (payload, ctx) => {
      if (typeof payload === 'string') this.o.onCancelled(payload, ctx.sender);
    });
  }

  get nodeId(): string {
    return this.o.config.cluster.node_id;
  }

  /** The members as last read (empty before start). */
  members(): readonly Member[] {
    return this.membership?.list() ?? [];
  }

  /** Asks a module actor served by another node (see exposeActor). */
  ask<M, R>(node: string, target: string, build: (replyTo: ReplyTo<R>) => M, timeoutMs?: number): Promise<R> {
    return remoteRef<M>(this.transport, node, target).ask(build, timeoutMs);
  }

  /**
   * Joins (status joining) with this node's gRPC address (the server is already
   * listening) and starts forwarding; ready() makes it active.
   */
  async start(self: MemberAddress): Promise<Member> {
    const c = this.o.config.cluster;
    this.membership = new Membership({
      store: this.o.store,
      self,
      log: this.o.log,
      heartbeatIntervalMs: c.heartbeat_interval_ms,
      suspectAfterMs: c.suspect_after_ms,
      deadAfterMs: c.dead_after_ms,
      probePeers: c.probe_peers,
      probe: (m) => this.prober.probe(m.address, m.grpc_port),
      onMembers: (members) => {
        const live = members.filter((m) => m.status === 'joining' || m.status === 'active' || m.status === 'suspect');
        this.transport.setPeers(live);
        for (const node of this.interested) if (!live.some((m) => m.node_id === node)) this.interested.delete(node);
        // Said again every round: a peer that (re)linked since learns it too.
        this.announceInterest();
      },
      onEvicted: (reason) => this.o.onEvicted(reason),
      onRejoined: (epoch) => {
        this.transport.setEpoch(epoch);
        this.o.onRejoined(epoch);
        for (const fn of this.rejoinListeners) fn(epoch);
      },
    });
    const me = await this.membership.join();
    this.transport.setEpoch(me.epoch);
    this.stopForwarding = this.o.events.subscribe((e) => {
      // Reading e.data builds the event: skipped unless some peer has observers.
      if (e.origin !== undefined || this.interested.size === 0 || !FORWARDED_TOPICS.has(e.topic)) return;
      this.outbox.push({ topic: e.topic, type: e.type, data: e.data, timestamp: e.timestamp });
      if (this.outbox.length === 1) setImmediate(() => this.flushEvents());
    });
    this.stopObserving = this.o.events.onObserving(() => this.announceInterest());
    this.stopCancels = this.o.events.subscribe((e) => {
      if (e.origin === undefined && e.type === 'task.cancelled')
        this.transport.broadcast('cancelled', (e.data as { id: string }).id);
    });
    return me;
  }

  /** The node serves now (its runner claims): heartbeats start, and the first makes it active. */
  ready(): Promise<void> {
    return this.membership?.start() ?? Promise.resolve();
  }

  /** Called after each rejoin (after the runner resumed). */
  whenRejoined(fn: (epoch: number) => void): void {
    this.rejoinListeners.push(fn);
  }

  stats(): Record<string, unknown> {
    return {
      enabled: true,
      node_id: this.nodeId,
      ...(this.membership?.stats() ?? {}),
      ...this.c,
      observed_by: [...this.interested],
      transport: this.transport.stats(),
    };
  }

  /** First step of a clean stop: no more forwarding, links closed (peers stop sending here). */
  closeLinks(): void {
    this.stopForwarding?.();
    this.stopObserving?.();
    this.stopCancels?.();
    this.transport.close();
  }

  /** Last step of a clean stop, after the runner released its work: status left. */
  async leave(): Promise<void> {
    await this.membership?.leave();
    this.prober.close();
  }

  /** One round of membership now (tests). */
  tick(): Promise<void> {
    return this.membership?.tick() ?? Promise.resolve();
  }

  private announceInterest(): void {
    this.transport.broadcast('interest', this.o.events.observing);
  }

  private flushEvents(): void {
    const batch = this.outbox;
    this.outbox = [];
    this.c.events_forwarded += batch.length;
    this.transport.broadcast('events', batch, (node) => this.interested.has(node));
  }

  private receiveEvents(payload: unknown, sender: string): void {
    if (!Array.isArray(payload)) throw new HubError('VALIDATION_FAILED', 'events: expected an array of events');
    for (const e of payload) {
      if (!isForwardedEvent(e)) continue;
      this.c.events_received++;
      this.o.events.publishForwarded(e, sender);
    }
  }
}
