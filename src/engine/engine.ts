/**
 * The node's task engine: the durable engine's hot path, one command surface
 * over its parts (placement.ts: claim and placement; execution.ts; writer.ts:
 * the group commit; lease-keeper.ts). It claims ready tasks in batches (leased
 * to this node with a fencing epoch), spreads them over the local agents'
 * deques, runs each agent's handlers up to its max_concurrency (an idle agent
 * steals from the deepest compatible deque), and stores starts and ends by
 * group commit. What it did reaches the modules on the event bus (topic
 * `engine`): outcomes per stored batch, and faults.
 *
 * Running handlers belong to the node, not to an actor incarnation: the engine
 * module (module.ts) supervises the parts (a part that fails is halted until
 * the module restarts it, with backoff), and restarts of any module leave
 * running handlers alone.
 */
import type { Agent, Task } from '../domain/index.js';
import { tellWaits } from './waits.js';
import { FlowStats } from './flow-stats.js';
import { errorMessage } from '../errors/index.js';
import { OutageTracker } from '../storage/index.js';
import { AbortReason } from './execute.js';
import { handlerFor, newAttempt, runAttempt, type Running } from './execution.js';
import { newSlot, profileOf, takesWork, victimFor, type Slot } from './placement.js';
import { HandOff } from './handoff.js';
import { Claimer } from './claimer.js';
import { TaskWriter } from './writer.js';
import { LeaseKeeper } from './lease-keeper.js';
import { IdleWaiters } from './idle.js';
import { engineStats } from './stats.js';
import { Workflows } from './workflows.js';
import {
  RequeueReason,
  newCounters,
  type EngineFault,
  type EngineOptions,
  type EnginePart,
  type EngineStats,
  type FitModel,
} from './types.js';

/** The engine's periodic work, driven by the engine module's ticks. */
export type EngineTick = 'heartbeat' | 'sweep' | 'claim';

export class TaskEngine {
  readonly slots = new Map<string, Slot>();
  private started = false;
  private stopped = false;
  /** Set while this node is evicted from its cluster (declared dead): it claims nothing until resume(). */
  private evictedFor: string | undefined;
  /** Parts halted by a fault until the engine module restarts them. */
  private readonly halted = new Set<EnginePart>();
  private readonly ticking = new Set<EngineTick>();
  fitModel: FitModel | undefined;
  private readonly c = newCounters();
  private readonly flow = new FlowStats();
  /** Claims, heartbeats, sweeps and flushes pause while the database is away; ends wait meanwhile. */
  private readonly outage: OutageTracker;
  private readonly writer: TaskWriter;
  private readonly leases: LeaseKeeper;
  private readonly claimer: Claimer;
  private unlisten: (() => Promise<void>) | undefined;
  /** Drains waiting for an agent to run nothing. */
  private readonly idle = new IdleWaiters();
  /** Waits, wakes, schedules and progress (workflows.ts). */
  readonly workflows: Workflows;
  /** Submissions stored already claimed by this node (handoff.ts). */
  readonly handoff: HandOff;

  constructor(private readonly o: EngineOptions) {
    this.outage = new OutageTracker(o.log, 'task engine');
    const shared = { ...o, counters: this.c, outage: this.outage };
    this.leases = new LeaseKeeper(shared);
    this.claimer = new Claimer(o, this.c, this.outage, {
      slots: this.slots,
      accepting: () => this.accepting(),
      pumpAll: () => this.pumpAll(),
      fault: (part, err) => this.fault(part, err),
      fitModel: () => this.fitModel,
      waiting: (changed) => tellWaits(this.o, changed),
      flowStats: this.flow,
    });
    this.handoff = new HandOff({
      slots: this.slots,
      claimer: this.claimer,
      counters: this.c,
      events: o.events,
      log: o.log,
      accepting: () => this.accepting(),
      pump: (slot) => this.pump(slot),
    });
    this.workflows = new Workflows({ ...o, ...o.workflows, outage: this.outage, wakeClaims: () => this.wake() });
    this.writer = new TaskWriter(shared, {
      running: (id) => this.runningAttempt(id),
      stored: ({ outcomes, samples, completed, suspended }) => {
        if (outcomes.length > 0) this.o.events.publish('engine', 'engine.outcomes', outcomes);
        if (samples.length > 0) this.fitModel?.record(samples);
        for (const at of suspended) this.workflows.waitsUntil(at);
        if (completed) this.wake(); // dependants may be ready
      },
      fault: (err) => this.fault('writer', err),
      halted: () => this.halted.has('writer'),
    });
  }

  /** How often each tick is due (the engine module's timers). */
  tickIntervals(): Record<EngineTick, number> {
    return { heartbeat: Math.max(50, Math.floor(this.o.leaseMs / 3)), sweep: 1000, claim: 1000 };
  }

  /** Takes back the leases of this node's previous process (see LeaseKeeper.recover). */
  recover(startedAt: Date): Promise<number> {
    return this.leases.recover(startedAt);
  }

  /** Places claimed tasks by the neural fit model (P(success) discounted by load) instead of declared capabilities; undefined: declared only. */
  useFitModel(model: FitModel | undefined): void {
    this.fitModel = model;
  }

  /** From now on the periodic work runs (ticks before are ignored), and LISTEN wakes the claims. */
  start(): void {
    this.started = true;
    const polling = (err: unknown): void =>
      this.o.log.warn({ err }, `listening for new tasks failed; polling every second instead: ${errorMessage(err)}`);
    void this.o.store.listenForTasks(() => this.wake()).then((stop) => (this.unlisten = stop), polling);
  }

  /**
   * One tick of periodic work; one of a kind at a time. Resolves when done;
   * rejects when the part failed (the module reports it as a fault).
   */
  async tick(kind: EngineTick): Promise<void> {
    if (!this.started || this.stopped || this.ticking.has(kind)) return;
    if (kind !== 'claim' && this.halted.has('lease_keeper')) return;
    this.ticking.add(kind);
    try {
      if (kind === 'heartbeat') await this.leases.heartbeat();
      else if (kind === 'sweep') {
        if ((await this.leases.sweep()) > 0) this.wake();
        if (this.evictedFor === undefined) await this.workflows.tick();
      } else this.wake();
    } finally {
      this.ticking.delete(kind);
    }
  }

  /** A part failed (not an outage): it is halted and the engine module hears of it (it restarts the part). */
  fault(part: EnginePart, err: unknown): void {
    this.halted.add(part);
    const fault: EngineFault = { part, error: errorMessage(err) };
    this.o.log.error({ event: 'engine.fault', part, err }, `task engine: ${part} failed: ${fault.error}`);
    this.o.events.publish('engine', 'engine.fault', fault);
  }

  /** The engine module's (re)start: halted parts run again. */
  restartParts(): EnginePart[] {
    const parts = [...this.halted];
    this.halted.clear();
    if (parts.includes('writer')) void this.writer.flushNow();
    this.wake();
    return parts;
  }

  /**
   * Adds or updates an agent that runs here (capabilities, pause, max_concurrency).
   * `session`: a remote agent's session (Sessions), which runs its tasks.
   */
  setAgent(agent: Agent, session?: string): void {
    const slot = this.slots.get(agent.id);
    if (slot === undefined) this.slots.set(agent.id, newSlot(agent, session));
    else {
      slot.agent = agent;
      slot.profile = profileOf(agent);
      if (session !== undefined) slot.session = session;
      if (!takesWork(slot)) this.rehome(slot.deque.splice(0));
    }
    this.pumpAll();
    this.wake();
  }

  /**
   * A remote agent's connection went away (false) or came back (true). Meanwhile it
   * is given nothing new and its queued tasks go to other agents at once; its
   * running ones wait for it (the grace of a resume).
   */
  setReachable(id: string, reachable: boolean): void {
    const slot = this.slots.get(id);
    if (slot === undefined) return;
    slot.unreachable = !reachable;
    if (!reachable) this.rehome(slot.deque.splice(0));
    else this.pumpAll();
    this.wake();
  }

  /** Removes an agent: its running handlers are aborted and their tasks requeued; its deque goes to others. */
  removeAgent(id: string, reason: string): void {
    const slot = this.slots.get(id);
    if (slot === undefined) return;
    this.slots.delete(id);
    for (const r of slot.running.values()) r.control.abort(new RequeueReason(reason));
    this.rehome(slot.deque.splice(0));
    this.idle.settle(id);
  }

  /**
   * Takes an agent's work away (POST /api/agents/:id/cancel): its running handlers are
   * aborted and their tasks requeued, its deque goes to other agents; it keeps its slot.
   * Returns how many tasks it gave up.
   */
  takeWorkFrom(id: string, reason: string): number {
    const slot = this.slots.get(id);
    if (slot === undefined) return 0;
    const n = slot.running.size + slot.deque.length;
    for (const r of slot.running.values()) r.control.abort(new RequeueReason(reason));
    this.rehome(slot.deque.splice(0));
    return n;
  }

  /** Resolves true once the agent runs nothing (at once when it runs nothing now), false after timeoutMs. */
  whenIdle(id: string, timeoutMs: number): Promise<boolean> {
    return this.load(id) === 0 ? Promise.resolve(true) : this.idle.wait(id, timeoutMs);
  }

  /** Claims soon (coalesced): after submissions, NOTIFY, when deques run low, and every second. */
  wake(): void {
    this.claimer.wake();
  }

  /** Whether this engine takes new work: not stopping, not evicted, and (a halted writer holds ends in memory) no part halted. */
  private accepting(): boolean {
    return !this.stopped && this.evictedFor === undefined && this.halted.size === 0;
  }

  /** A cancelled task (already cancelled in storage): dropped from its deque, or its handler aborted. */
  abort(taskId: string, reason: string): void {
    for (const slot of this.slots.values()) {
      const i = slot.deque.findIndex((t) => t.id === taskId);
      if (i >= 0) slot.deque.splice(i, 1);
      slot.running.get(taskId)?.control.abort(new AbortReason('cancelled', reason));
    }
  }

  /**
   * This node was declared dead by its cluster (it stalled longer than the
   * death bound): another node already released its leases, so nothing held
   * here is its own any more. Queued tasks are dropped and running handlers
   * aborted without storing anything (a finish would be fenced anyway); finishes
   * already waiting for the group commit are still sent and the store refuses
   * them as stale. No claims until resume().
   */
  evict(reason: string): number {
    this.evictedFor = reason;
    let n = 0;
    for (const slot of this.slots.values()) {
      n += slot.deque.splice(0).length + slot.running.size;
      for (const r of slot.running.values()) r.control.abort(new AbortReason('cancelled', reason));
    }
    return n;
  }

  /** Rejoined the cluster with a new epoch: claims again. */
  resume(): void {
    this.evictedFor = undefined;
    this.wake();
  }

  /** Hands a task claimed for a named agent (manual assignment) to the front of its deque. */
  assign(agentId: string, task: Task): boolean {
    const slot = this.slots.get(agentId);
    if (slot === undefined) return false;
    slot.deque.unshift({ ...task, assigned_agent: agentId });
    this.o.events.publish('tasks', 'task.assigned', { ...task, assigned_agent: agentId });
    this.pump(slot);
    return true;
  }

  /** Tasks an agent runs now. */
  load(agentId: string): number {
    return this.slots.get(agentId)?.running.size ?? 0;
  }

  stats(): EngineStats {
    return engineStats(this.slots.values(), this.c, { flow: this.flow.figures(), workflows: this.workflows.counts() });
  }

  /**
   * Drains and stops: no more claims, deque tasks go back, running handlers
   * finish for at most graceMs, the rest are requeued, and every end is stored.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    await this.unlisten?.();
    const queued = [...this.slots.values()].flatMap((s) => s.deque.splice(0));
    await this.claimer.release(queued, 'node stopping');
    const deadline = Date.now() + graceMs;
    while (this.anyRunning() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const s of this.slots.values())
      for (const r of s.running.values()) r.control.abort(new RequeueReason('node stopping'));
    while (this.anyRunning()) await new Promise((r) => setTimeout(r, 5));
    // A halted writer still stores what it holds at the stop: nothing acknowledged is left in memory.
    this.halted.delete('writer');
    await this.writer.flushNow();
    await this.workflows.stop();
  }

  private anyRunning(): boolean {
    for (const s of this.slots.values()) if (s.running.size > 0) return true;
    return false;
  }

  /** Tasks of a removed or paused agent go to other capable agents, or back to pending. */
  private rehome(tasks: Task[]): void {
    const homeless = this.claimer.place(tasks);
    if (homeless.length > 0)
      void this.claimer
        .release(homeless, 'its agent left')
        .catch((err: unknown) => this.o.log.warn({ err }, 'releasing tasks failed'));
    this.pumpAll();
  }

  private pumpAll(): void {
    for (const s of this.slots.values()) this.pump(s);
  }

  private pump(slot: Slot): void {
    let started = 0;
    while (
      !this.stopped &&
      takesWork(slot) &&
      this.slots.get(slot.agent.id) === slot &&
      slot.running.size + slot.reserved < slot.agent.max_concurrency
    ) {
      const task = slot.deque.shift() ?? this.steal(slot);
      if (task === undefined) break;
      this.run(slot, task);
      started++;
    }
    // Refill when the deques run low, unless the last claim found the queue empty
    // (then new work announces itself: a submission, NOTIFY, or the one-second tick).
    if (started === 0 || this.claimer.queueDrained) return;
    const { buffered, target } = this.claimer.capacityTarget();
    if (buffered * 2 <= target) this.wake();
  }

  /** Takes the last compatible task of the deepest other deque. */
  private steal(thief: Slot): Task | undefined {
    this.c.steal_attempts++;
    const found = victimFor(this.slots.values(), thief);
    if (found === undefined) return undefined;
    const [task] = found.victim.deque.splice(found.index, 1);
    this.c.steals++;
    if (task !== undefined) task.assigned_agent = thief.agent.id;
    return task;
  }

  private run(slot: Slot, task: Task): void {
    const agent = slot.agent;
    task.assigned_agent = agent.id;
    const r = newAttempt(task, agent, slot.running.size, this.fitModel !== undefined);
    slot.running.set(task.id, r);
    this.writer.started(r);
    const handler = handlerFor(agent, slot.session, this.o.sessions, this.o.handlers, this.o.defaultExecutor);
    void runAttempt(r, agent, handler, this.o.log, this.o.units, this.workflows.sinks).then((outcome) => {
      slot.running.delete(r.task.id);
      if (slot.running.size === 0 && this.idle.size > 0) this.idle.settle(agent.id);
      this.writer.ended(r, outcome);
      this.flow.finished(r.task.concurrency_keys, r.control.usage);
      this.pump(slot);
    });
  }

  private runningAttempt(taskId: string): Running | undefined {
    for (const slot of this.slots.values()) {
      const r = slot.running.get(taskId);
      if (r !== undefined) return r;
    }
    return undefined;
  }
}
