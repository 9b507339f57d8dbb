/** One peer's link of the node transport: its stream when up, its bounded outbound queue, batching and counters. */
import type * as grpc from '@grpc/grpc-js';
import { HubError } from '../src/errors/index.js';

export type EnvelopeKind = 'TELL' | 'ASK' | 'REPLY' | 'FAILURE';

export interface Envelope {
  target: string;
  sender: string;
  correlation_id: number;
  kind: EnvelopeKind;
  payload: Buffer;
}

export interface Frame {
  hello?: { node_id: string; epoch: number };
  batch?: { envelopes: Envelope[] };
}

export type Duplex = grpc.ClientDuplexStream<Frame, Frame> | grpc.ServerDuplexStream<Frame, Frame>;

/** A peer as the transport's stats show it. */
export interface PeerStats {
  node_id: string;
  connected: boolean;
  queued: number;
  sent: number;
  received: number;
  batches_sent: number;
  reconnects: number;
}

export const RECONNECT_MIN_MS = 100;
export const RECONNECT_MAX_MS = 5000;

/** The link to one peer: its stream (when up), its outbound queue and counters. */
export class PeerLink {
  stream: Duplex | undefined;
  queue: Envelope[] = [];
  private flushQueued = false;
  private waitingDrain = false;
  closed = false;
  /** Dialling side only. */
  client: grpc.Client | undefined;
  address = '';
  backoffMs = RECONNECT_MIN_MS;
  reconnectTimer: NodeJS.Timeout | undefined;
  readonly counts = { sent: 0, received: 0, batches_sent: 0, reconnects: 0 };

  /** Payload bytes of the envelopes in `queue`. */
  private queuedBytes = 0;

  constructor(
    readonly node: string,
    private readonly batchMax: number,
    private readonly queueMax: number,
    private readonly queueMaxBytes: number,
  ) {}

  enqueue(e: Envelope): void {
    if (this.closed)
      throw new HubError('NODE_UNREACHABLE', `node ${this.node} is not a live member of the cluster`, {
        details: { node_id: this.node },
      });
    if (
      this.queue.length >= this.queueMax ||
      (this.queuedBytes > 0 && this.queuedBytes + e.payload.length > this.queueMaxBytes)
    ) {
      throw new HubError(
        'QUEUE_FULL',
        `${this.queue.length} envelopes (${this.queuedBytes} bytes) are waiting for node ${this.node}: it is slow or unreachable`,
        {
          details: { node_id: this.node, queued: this.queue.length, queued_bytes: this.queuedBytes },
        },
      );
    }
    this.queue.push(e);
    this.queuedBytes += e.payload.length;
    this.schedule();
  }

  private schedule(): void {
    if (this.flushQueued || this.stream === undefined || this.waitingDrain || this.queue.length === 0) return;
    this.flushQueued = true;
    // setImmediate, not a microtask: envelopes from the whole turn (and its I/O) share a batch.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushQueued = false;
    const stream = this.stream;
    while (stream !== undefined && this.queue.length > 0 && !this.waitingDrain) {
      const envelopes = this.queue.length <= this.batchMax ? this.queue : this.queue.slice(0, this.batchMax);
      this.queue = envelopes === this.queue ? [] : this.queue.slice(this.batchMax);
      for (const e of envelopes) this.queuedBytes -= e.payload.length;
      this.counts.sent += envelopes.length;
      this.counts.batches_sent++;
      if (!stream.write({ batch: { envelopes } })) {
        this.waitingDrain = true;
        stream.once('drain', () => {
          this.waitingDrain = false;
          this.schedule();
        });
      }
    }
  }

  attach(stream: Duplex): void {
    this.stream = stream;
    this.waitingDrain = false;
    this.backoffMs = RECONNECT_MIN_MS;
    this.schedule();
  }

  /** True when `stream` was the link's stream. */
  detach(stream: Duplex): boolean {
    if (this.stream !== stream) return false;
    this.stream = undefined;
    this.waitingDrain = false;
    return true;
  }
}

/** A payload as an envelope carries it (JSON). */
export function encode(payload: unknown): Buffer {
  return Buffer.from(JSON.stringify(payload ?? null));
}

export function decode(bytes: Buffer | Uint8Array): unknown {
  return bytes.length === 0
    ? null
    : (JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as unknown);
}
