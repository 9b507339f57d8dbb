import type { ActorSpec, ActorStatus, ActorInfo } from './types.js';
import type { PendingReply } from './reply.js';
import type { NactRef } from './nact-bindings.js';

/** A user message as it travels through nact, with the ask's reply channel if any. */
export type Envelope =
  | { kind: 'user'; msg: unknown; reply: PendingReply<unknown> | undefined }
  | { kind: 'init' }
  | { kind: 'reset' }
  | { kind: 'restart' };

/** nact's per-actor state: the user state once init has run. */
export type CellState = { ready: false } | { ready: true; value: unknown };

/** Thrown inside an actor to make its supervisor restart it on request. */
export class RestartSignal extends Error {
  constructor() {
    super('restart requested');
  }
}

/**
 * The runtime's record of one actor: status, counters, mailbox depth and open
 * asks. It outlives nact actors, so a respawned actor keeps its refs.
 */
export class Cell {
  status: ActorStatus = 'starting';
  queued = 0;
  restartTimes: number[] = [];
  restartsTotal = 0;
  /** Consecutive crashes caused by an outage (reset by a successful init): the backoff's exponent. */
  outageStreak = 0;
  crashes = 0;
  lastError: string | undefined;
  lastErrorAt: string | undefined;
  stopRequested = false;
  nact: NactRef | undefined;
  /** The state the current incarnation last returned (what spec.handOver is given before a restart). */
  state: { ready: true; value: unknown } | undefined;
  /** Bumped at every (re)spawn, so stop hooks of an old nact actor leave the new one alone. */
  incarnation = 0;
  /** Open asks and the incarnation they were sent to. */
  readonly pending = new Map<PendingReply<unknown>, number>();
  readonly children = new Map<string, Cell>();

  constructor(
    readonly parent: Cell | undefined,
    public spec: ActorSpec<unknown, unknown>,
    readonly path: string,
    readonly bound: number,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get alive(): boolean {
    return this.status !== 'stopped' && this.status !== 'failed';
  }

  info(): ActorInfo {
    const info: ActorInfo = {
      path: this.path,
      name: this.name,
      status: this.status,
      restarts: this.restartsTotal,
      crashes: this.crashes,
      mailboxDepth: this.queued,
    };
    if (this.lastError !== undefined) info.lastError = this.lastError;
    if (this.lastErrorAt !== undefined) info.lastErrorAt = this.lastErrorAt;
    return info;
  }
}

/** The `type` of a message, for logs and dead-letter reports. */
export function messageType(msg: unknown): string {
  if (typeof msg === 'object' && msg !== null && 'type' in msg && typeof msg.type === 'string') return msg.type;
  return typeof msg;
}
