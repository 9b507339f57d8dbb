import type { Logger } from '../log/logger.js';
import type { SupervisionPolicy } from './supervision.js';
import type { ReplyTo } from './reply.js';

/**
 * What a ref knows of the cell behind it. The actor system creates every ref over
 * its own Cell and reads it back with cellOf(); declaring only this much here keeps
 * types.ts free of cell.ts (which imports these types): no import cycle.
 */
export interface CellHandle {
  readonly path: string;
  readonly name: string;
}

/** A typed handle to an actor; stable across restarts of the actor behind it. */
export class ActorRef<Msg> {
  /** Phantom field: makes ActorRef<A> and ActorRef<B> distinct types. */
  declare readonly __msg?: (msg: Msg) => void;
  /** @internal */
  readonly cell: CellHandle;
  constructor(cell: CellHandle) {
    this.cell = cell;
  }
  get path(): string {
    return this.cell.path;
  }
  get name(): string {
    return this.cell.name;
  }
}

/** A ref of any message type (for operations that do not send: info, stop, restart). */
export type AnyActorRef = ActorRef<never>;

/** What an actor's init and receive functions are given. */
export interface ActorContext<Msg> {
  readonly self: ActorRef<Msg>;
  readonly path: string;
  readonly log: Logger;
  /** Spawns a child supervised by this actor. */
  spawn<M, S>(spec: ActorSpec<M, S>): ActorRef<M>;
  /** A child that is alive now, by name (a reset keeps its children: its init finds them here). */
  child<M>(name: string): ActorRef<M> | undefined;
  /** Stops a child (its mailbox becomes dead letters). */
  stop(ref: AnyActorRef): void;
  /** Sends a message to any actor (see ActorSystem.tell). */
  tell<M>(ref: ActorRef<M>, msg: M): void;
  /** Asks any actor and waits for the reply (see ActorSystem.ask). */
  ask<M, R>(ref: ActorRef<M>, build: (replyTo: ReplyTo<R>) => M, timeoutMs?: number): Promise<R>;
  /** A snapshot of any actor: status, restarts, last error (see ActorSystem.info). */
  info(ref: AnyActorRef): ActorInfo;
  /** Restarts a child as a supervisor would; respawns it if it failed (see ActorSystem.restart). */
  restart(ref: AnyActorRef): void;
  /** Re-runs a live actor's init without a restart (see ActorSystem.reset). */
  reset(ref: AnyActorRef): void;
}

/**
 * An actor's logic: init builds state (at start and after every restart, from
 * storage when the actor persists anything); receive handles one message.
 */
export interface ActorSpec<Msg, State> {
  readonly name: string;
  init(ctx: ActorContext<Msg>): State | Promise<State>;
  receive(state: State, msg: Msg, ctx: ActorContext<Msg>): State | Promise<State>;
  /** What happens when init or receive throws; defaults to the system's restart policy. */
  readonly supervision?: SupervisionPolicy;
  /** Most messages waiting in the mailbox; defaults to the system's bound. */
  readonly mailboxBound?: number;
  /**
   * Called with the state an incarnation last returned, just before it is
   * restarted (a crash or a request): what it holds for others that must not be
   * lost (requests accepted, not yet served), it sends to itself here, and the
   * next incarnation receives it. State lives only in the runtime: nothing is
   * kept in closures across incarnations.
   */
  handOver?(state: State, ctx: ActorContext<Msg>): void;
  /** Turns a child's escalated failure into a message to this actor. */
  readonly childFailed?: (childName: string, error: unknown) => Msg;
}

export type ActorStatus = 'starting' | 'running' | 'restarting' | 'failed' | 'stopped';

/** A snapshot of one actor, for /health and module status. */
export interface ActorInfo {
  path: string;
  name: string;
  status: ActorStatus;
  restarts: number;
  crashes: number;
  mailboxDepth: number;
  lastError?: string;
  lastErrorAt?: string;
}

export type DeadLetterReason = 'actor_stopped' | 'stopped_mailbox' | 'unanswered_ask';

/** A message that was not (or will never be) handled. */
export interface DeadLetter {
  path: string;
  reason: DeadLetterReason;
  messageType: string;
}

export type { ReplyTo };

/** Every module answers a ping: /health?detailed=true checks each one within a deadline. */
export type ModulePing = { type: 'module.ping'; replyTo: ReplyTo<true> };
