/**
 * The typed actor runtime over nact. nact gives mailboxes, sequential handling
 * and the supervision hook; this layer adds typed refs, ask with deadlines,
 * restart-with-backoff and restart intensity, mailbox bounds, dead letters,
 * and restart/reset of an actor by ref (a stopped or failed one is respawned).
 */
// size: the runtime's one class: spawn, mailbox, asks, supervision and stop share the Cell bookkeeping and nact's hooks (supervision.ts decides, cell.ts records).
import {
  ActorCrashedError,
  ActorStoppedError,
  HubError,
  MailboxFullError,
  errorMessage,
  isOutage,
} from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { HubMetrics } from '../metrics/registry.js';
import { systemClock, type Clock } from './clock.js';
import { Cell, RestartSignal, messageType, type CellState, type Envelope } from './cell.js';
import {
  nactDispatch,
  nactSpawn,
  nactStart,
  nactStop,
  type NactRef,
  type NactSupervisionContext,
} from './nact-bindings.js';
import { PendingReply, type ReplyOf, type ReplyTo, type RequestBody, type RequestType } from './reply.js';
import { decide, type SupervisionPolicy } from './supervision.js';
import {
  ActorRef,
  type AnyActorRef,
  type ActorContext,
  type ActorInfo,
  type ActorSpec,
  type DeadLetter,
  type DeadLetterReason,
} from './types.js';

/** The Cell behind a ref: every ref is created here over a Cell (types.ts declares only its handle). */
function cellOf(ref: AnyActorRef | ActorRef<unknown>): Cell {
  return ref.cell as Cell;
}

export interface ActorSystemOptions {
  name: string;
  log: Logger;
  metrics: HubMetrics;
  defaultPolicy: SupervisionPolicy;
  mailboxBound: number;
  askTimeoutMs: number;
  clock?: Clock;
  /** Called when a top-level actor exceeds its restart intensity (nothing above it can help). */
  onRootFailed?: (info: ActorInfo, error: unknown) => void;
}

let systemCounter = 0;

export class ActorSystem {
  private readonly root: NactRef;
  private readonly clock: Clock;
  private readonly roots = new Map<string, Cell>();
  private readonly deadLetterListeners: Array<(d: DeadLetter) => void> = [];
  private shuttingDown = false;

  constructor(private readonly options: ActorSystemOptions) {
    this.clock = options.clock ?? systemClock;
    this.root = nactStart(`${options.name}-${process.pid}-${++systemCounter}`);
  }

  /** Spawns a top-level actor. */
  spawn<M, S>(spec: ActorSpec<M, S>): ActorRef<M> {
    return this.spawnCell(undefined, spec) as ActorRef<M>;
  }

  /** Sends a message; throws MailboxFullError at the bound; reports a dead letter if the actor is gone. */
  tell<M>(ref: ActorRef<M>, msg: M): void {
    this.enqueue(cellOf(ref), { kind: 'user', msg, reply: undefined });
  }

  /** Sends a message carrying a reply channel and waits for the reply, at most timeoutMs. */
  /** A periodic tick on the system's clock (tests drive it with their own); returns the function that stops it. */
  every(ms: number, fn: () => void): () => void {
    return this.clock.every(ms, fn);
  }

  /**
   * A typed ask by message type: `request(ref, 'task.get', { id })` builds the
   * message, adds the reply channel, and gives the reply type of that message.
   */
  request<M, T extends RequestType<M>>(
    ref: ActorRef<M>,
    type: T,
    body: NoInfer<RequestBody<M, T>>,
    timeoutMs?: number,
  ): Promise<ReplyOf<M, T>> {
    return this.ask(ref, (replyTo: ReplyTo<ReplyOf<M, T>>) => ({ ...body, type, replyTo }) as M, timeoutMs);
  }

  ask<M, R>(ref: ActorRef<M>, build: (replyTo: ReplyTo<R>) => M, timeoutMs = this.options.askTimeoutMs): Promise<R> {
    const cell = cellOf(ref);
    const reply = new PendingReply<R>((r) => cell.pending.delete(r as PendingReply<unknown>));
    cell.pending.set(reply as PendingReply<unknown>, cell.incarnation);
    reply.startTimer(cell.path, timeoutMs);
    try {
      this.enqueue(cell, { kind: 'user', msg: build(reply), reply: reply as PendingReply<unknown> });
    } catch (err) {
      reply.fail(err);
    }
    return reply.promise;
  }

  /** Restarts an actor as its supervisor would (state rebuilt by init); respawns it if it stopped or failed. */
  restart(ref: AnyActorRef): void {
    const cell = cellOf(ref);
    if (cell.alive) {
      this.dispatchInternal(cell, { kind: 'restart' });
      return;
    }
    if (cell.parent !== undefined && !cell.parent.alive) {
      throw new ActorStoppedError(cell.parent.path);
    }
    this.options.metrics.actorRestarts.inc({ actor: cell.path, reason: 'manual' });
    cell.restartsTotal++;
    cell.restartTimes = [];
    (cell.parent?.children ?? this.roots).set(cell.name, cell);
    this.startCell(cell);
    this.logFor(cell).warn({ event: 'actor.respawned' }, `actor ${cell.path} respawned on request`);
  }

  /** Re-runs an actor's init without a restart (keeps children): rebuilds state from storage. */
  reset(ref: AnyActorRef): void {
    if (!cellOf(ref).alive) throw new ActorStoppedError(cellOf(ref).path);
    this.dispatchInternal(cellOf(ref), { kind: 'reset' });
  }

  /** Stops an actor and its children; waiting messages and open asks become dead letters. */
  stop(ref: AnyActorRef): void {
    this.stopCell(cellOf(ref));
  }

  /** Snapshot of an actor. */
  info(ref: AnyActorRef): ActorInfo {
    return cellOf(ref).info();
  }

  /** Snapshots of an actor's children. */
  childrenInfo(ref: AnyActorRef): ActorInfo[] {
    return [...cellOf(ref).children.values()].map((c) => c.info());
  }

  onDeadLetter(listener: (d: DeadLetter) => void): void {
    this.deadLetterListeners.push(listener);
  }

  /** Stops every actor; resolves once their stop hooks have run. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const cell of this.roots.values()) this.stopCell(cell);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    nactStop(this.root);
  }

  private spawnCell(parent: Cell | undefined, spec: ActorSpec<unknown, unknown>): AnyActorRef {
    const siblings = parent?.children ?? this.roots;
    const existing = siblings.get(spec.name);
    if (existing !== undefined) {
      // Same name again (typically a parent rebuilding its children after a restart):
      // reuse the cell so refs held elsewhere stay valid.
      if (existing.alive) throw new HubError('CONFLICT', `actor ${existing.path} already exists`);
      existing.spec = spec;
      this.startCell(existing);
      return new ActorRef<unknown>(existing);
    }
    const path = `${parent?.path ?? ''}/${spec.name}`;
    const cell = new Cell(parent, spec, path, spec.mailboxBound ?? this.options.mailboxBound);
    siblings.set(cell.name, cell);
    this.startCell(cell);
    return new ActorRef<unknown>(cell);
  }

  private startCell(cell: Cell): void {
    cell.status = 'starting';
    cell.stopRequested = false;
    const incarnation = ++cell.incarnation;
    const parentRef = cell.parent?.nact ?? this.root;
    const nact = nactSpawn<CellState>(parentRef, (state, raw) => this.handle(cell, state, raw as Envelope), cell.name, {
      initialState: { ready: false },
      onCrash: (msg, err, sctx, child) => this.onCrash(cell, msg as Envelope | undefined, err, sctx, child),
      afterStop: (_state, sctx) =>
        this.afterStop(
          cell,
          incarnation,
          sctx.mailbox.map((m) => m.message as Envelope),
        ),
    });
    cell.nact = nact;
    this.dispatchInternal(cell, { kind: 'init' });
  }

  private enqueue(cell: Cell, env: Envelope & { kind: 'user' }): void {
    if (!cell.alive || cell.nact === undefined) {
      this.deadLetter(cell, 'actor_stopped', env.msg);
      throw new ActorStoppedError(cell.path);
    }
    if (cell.queued >= cell.bound) {
      this.options.metrics.mailboxRejections.inc({ actor: cell.path });
      throw new MailboxFullError(cell.path, cell.bound);
    }
    cell.queued++;
    this.options.metrics.mailboxDepth.set({ actor: cell.path }, cell.queued);
    nactDispatch(cell.nact, env);
  }

  private dispatchInternal(cell: Cell, env: Envelope): void {
    if (cell.nact !== undefined && cell.alive) nactDispatch(cell.nact, env);
  }

  private async handle(cell: Cell, state: CellState, env: Envelope): Promise<CellState> {
    const ctx = this.contextFor(cell);
    switch (env.kind) {
      case 'user': {
        cell.queued--;
        this.options.metrics.mailboxDepth.set({ actor: cell.path }, cell.queued);
        const current = state.ready ? state.value : await this.initCell(cell, ctx);
        return this.settled(cell, await cell.spec.receive(current, env.msg, ctx));
      }
      case 'init':
        return state.ready ? state : this.settled(cell, await this.initCell(cell, ctx));
      case 'reset':
        return this.settled(cell, await this.initCell(cell, ctx));
      case 'restart':
        throw new RestartSignal();
    }
  }

  /** The state nact keeps, remembered on the cell too (for handOver): one object per message, as before. */
  private settled(cell: Cell, value: unknown): CellState {
    const state = { ready: true as const, value };
    cell.state = state;
    return state;
  }

  private async initCell(cell: Cell, ctx: ActorContext<unknown>): Promise<unknown> {
    const value = await cell.spec.init(ctx);
    cell.status = 'running';
    cell.outageStreak = 0;
    return value;
  }

  private async onCrash(
    cell: Cell,
    env: Envelope | undefined,
    err: unknown,
    sctx: NactSupervisionContext,
    child: NactRef | undefined,
  ): Promise<symbol> {
    if (child !== undefined) return this.onChildEscalated(cell, child.name, err, sctx);
    const log = this.logFor(cell);
    if (err instanceof RestartSignal) {
      cell.status = 'restarting';
      cell.restartsTotal++;
      this.options.metrics.actorRestarts.inc({ actor: cell.path, reason: 'manual' });
      log.warn({ event: 'actor.restarted', reason: 'manual' }, `actor ${cell.path} restarting on request`);
      return this.afterRestart(cell, sctx);
    }
    this.recordCrash(cell, env, err, log);
    const outage = isOutage(err) ? cell.outageStreak++ : undefined;
    const decision = decide(
      cell.spec.supervision ?? this.options.defaultPolicy,
      cell.restartTimes,
      this.clock.now(),
      outage,
    );
    switch (decision.action) {
      case 'resume':
        return sctx.resume;
      case 'stop':
        return sctx.stop;
      case 'escalate':
        return this.escalate(cell, err, decision.recent.length, sctx, log);
      case 'restart':
        cell.restartTimes = decision.recent;
        cell.status = 'restarting';
        log.warn(
          {
            event: 'actor.restarting',
            delay_ms: decision.delayMs,
            recent_restarts: decision.recent.length,
            outage: outage !== undefined,
          },
          `actor ${cell.path} restarting in ${decision.delayMs} ms${outage !== undefined ? ' (outage: not counted toward its restart intensity)' : ''}`,
        );
        await this.clock.sleep(decision.delayMs);
        if (cell.stopRequested || this.shuttingDown) return sctx.resume; // stopped meanwhile: nothing left to restart
        cell.restartsTotal++;
        this.options.metrics.actorRestarts.inc({ actor: cell.path, reason: 'crash' });
        log.info({ event: 'actor.restarted', reason: 'crash' }, `actor ${cell.path} restarted`);
        return this.afterRestart(cell, sctx);
    }
  }

  private recordCrash(cell: Cell, env: Envelope | undefined, err: unknown, log: Logger): void {
    cell.crashes++;
    cell.lastError = errorMessage(err);
    cell.lastErrorAt = new Date(this.clock.now()).toISOString();
    this.options.metrics.actorCrashes.inc({ actor: cell.path });
    const msgType = env?.kind === 'user' ? messageType(env.msg) : (env?.kind ?? 'init');
    // An outage is expected and passes: a warning with the message only (the stack says nothing new).
    if (isOutage(err))
      log.warn(
        { event: 'actor.crashed', outage: true, message_type: msgType },
        `actor ${cell.path} stopped handling ${msgType}: ${cell.lastError}`,
      );
    else
      log.error(
        { event: 'actor.crashed', err, message_type: msgType },
        `actor ${cell.path} crashed handling ${msgType}: ${cell.lastError}`,
      );
    // The caller of an ask that met an outage gets the outage (503, retryable), not a crash (500).
    if (env?.kind === 'user' && env.reply !== undefined)
      env.reply.fail(isOutage(err) ? err : new ActorCrashedError(cell.path, err));
  }

  private afterRestart(cell: Cell, sctx: NactSupervisionContext): symbol {
    const last = cell.state;
    cell.state = undefined;
    if (last !== undefined && cell.spec.handOver !== undefined) {
      try {
        cell.spec.handOver(last.value, this.contextFor(cell));
      } catch (err) {
        this.logFor(cell).error({ err }, `actor ${cell.path}: handing its state over to the next incarnation failed`);
      }
    }
    // nact stops the children and resets the actor after this returns; mark the
    // children stopped now so that init can respawn them into the same cells.
    for (const child of cell.children.values()) this.markStopped(child);
    setImmediate(() => this.dispatchInternal(cell, { kind: 'init' }));
    return sctx.reset;
  }

  private markStopped(cell: Cell): void {
    if (cell.status !== 'failed') cell.status = 'stopped';
    for (const child of cell.children.values()) this.markStopped(child);
  }

  private escalate(cell: Cell, err: unknown, recent: number, sctx: NactSupervisionContext, log: Logger): symbol {
    cell.status = 'failed';
    this.options.metrics.actorEscalations.inc({ actor: cell.path });
    log.error(
      { event: 'actor.escalated', recent_restarts: recent },
      `actor ${cell.path} crashed ${recent + 1} times within its restart window; escalating`,
    );
    if (cell.parent !== undefined) return sctx.escalate;
    this.options.onRootFailed?.(cell.info(), err);
    return sctx.stop;
  }

  private onChildEscalated(parent: Cell, childName: string, err: unknown, sctx: NactSupervisionContext): symbol {
    const child = parent.children.get(childName);
    if (child !== undefined) child.status = 'failed';
    const mapped = parent.spec.childFailed?.(childName, err);
    if (mapped !== undefined) {
      try {
        this.enqueue(parent, { kind: 'user', msg: mapped, reply: undefined });
      } catch (e) {
        // The parent cannot take the notice (full or stopping): it is logged and counted as a dead letter.
        this.logFor(parent).error({ err: e }, `could not notify ${parent.path} that child ${childName} failed`);
      }
    }
    return sctx.stopChild;
  }

  private stopCell(cell: Cell): void {
    cell.stopRequested = true;
    if (cell.nact !== undefined && cell.alive) nactStop(cell.nact);
    else this.afterStop(cell, cell.incarnation, []);
  }

  private afterStop(cell: Cell, incarnation: number, leftovers: Envelope[]): void {
    const current = cell.incarnation === incarnation;
    if (current) {
      if (cell.status !== 'failed') cell.status = 'stopped';
      // A failed actor stays listed (health shows it; restart respawns it); one stopped on request leaves its parent.
      const siblings = cell.parent?.children;
      if (cell.stopRequested && cell.status === 'stopped' && siblings?.get(cell.name) === cell)
        siblings.delete(cell.name);
    }
    for (const env of leftovers) {
      if (env.kind !== 'user') continue;
      cell.queued = Math.max(0, cell.queued - 1);
      this.deadLetter(cell, 'stopped_mailbox', env.msg);
      env.reply?.fail(new ActorStoppedError(cell.path));
    }
    for (const [reply, sentTo] of [...cell.pending]) {
      if (sentTo !== incarnation) continue;
      this.deadLetter(cell, 'unanswered_ask', undefined);
      reply.fail(new ActorStoppedError(cell.path));
    }
  }

  private deadLetter(cell: Cell, reason: DeadLetterReason, msg: unknown): void {
    const d: DeadLetter = { path: cell.path, reason, messageType: messageType(msg) };
    this.options.metrics.deadLetters.inc({ actor: cell.path, reason });
    this.logFor(cell).warn(
      { event: 'actor.dead_letter', reason, message_type: d.messageType },
      `dead letter to ${cell.path} (${reason})`,
    );
    for (const l of this.deadLetterListeners) l(d);
  }

  private readonly contexts = new WeakMap<Cell, ActorContext<unknown>>();

  private contextFor(cell: Cell): ActorContext<unknown> {
    let ctx = this.contexts.get(cell);
    if (ctx === undefined) {
      ctx = {
        self: new ActorRef(cell),
        path: cell.path,
        log: this.logFor(cell),
        spawn: <M, S>(spec: ActorSpec<M, S>) => this.spawnCell(cell, spec) as ActorRef<M>,
        child: <M>(name: string) => {
          const c = cell.children.get(name);
          return c?.alive === true ? new ActorRef<M>(c) : undefined;
        },
        stop: (ref) => this.stopCell(cellOf(ref)),
        tell: (ref, msg) => this.tell(ref, msg),
        ask: (ref, build, timeoutMs) => this.ask(ref, build, timeoutMs),
        info: (ref) => this.info(ref),
        restart: (ref) => this.restart(ref),
        reset: (ref) => this.reset(ref),
      };
      this.contexts.set(cell, ctx);
    }
    return ctx;
  }

  private logFor(cell: Cell): Logger {
    return this.options.log.child({ actor: cell.path });
  }
}
