/**
 * The node's task runner: the hot path of the durable task engine.
 *
 * It claims ready tasks in batches (one statement, leased to this node with a
 * fencing epoch), spreads them over the local agents' deques by capability fit,
 * runs each agent's handlers up to its max_concurrency (an idle agent steals
 * from the deepest compatible deque), and stores starts and ends by group
 * commit: one transaction per short window, never a round trip per task.
 * Leases are extended while this node lives; expired ones (of any node) are
 * requeued. Failures retry with backoff until max_attempts, then the task is dead.
 *
 * Running handlers belong to the node, not to an actor incarnation: the runner
 * outlives restarts of task_management and agent_management, which drive it.
 */
import {
  afterFailure,
  fitScore,
  missingCapability,
  type Agent,
  type BackoffPolicy,
  type Task,
} from '../../src/domain/index.js';
import { errorMessage, type HubError } from '../../src/errors/index.js';
import type { HubConfig } from '../../src/config/index.js';
import type { Logger } from '../../src/log/logger.js';
import type { EventBus } from '../../src/runtime/index.js';
import {
  OutageTracker,
  writeIsolating,
  type FinishOutcome,
  type Store,
  type TaskFinish,
  type TaskStart,
} from '../../src/storage/index.js';
import { AbortReason, RunControl, execute, type Outcome } from '../agent/execute.js';
import {
  FIT_WIDTH,
  fitCapabilities,
  loadDiscount,
  writeFitFeatures,
  type FitSample,
} from '../../src/neural/fit-features.js';
import { TaskFailure, type Handler } from '../agent/executors.js';

let lastMs = 0;
let lastIso = '';

/** The current time as ISO 8601, made once per millisecond (thousands of tasks end within one). */
function nowIso(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/** A task still running this long after it started gets its start stored on its own (shorter ones are stored once, as ended). */
const START_DELAY_MS = 50;

/** A claimed task no single agent here can take is claimable again after this long. */
const UNPLACEABLE_DELAY_MS = 5000;

export interface RunnerOptions {
  store: Store;
  events: EventBus;
  log: Logger;
  nodeId: string;
  handlers: ReadonlyMap<string, Handler>;
  defaultExecutor: string;
  leaseMs: number;
  claimBatch: number;
  prefetch: number;
  flushWindowMs: number;
  flushMax: number;
  backoff: BackoffPolicy;
}

/** What one agent's tasks did in one stored batch. */
export interface AgentOutcome {
  agentId: string;
  completed: number;
  failed: number;
  durationMsTotal: number;
  /** Per task that ended: its requirements and whether it succeeded (agents learn from it). */
  results: Array<{ required: Task['required_capabilities']; success: boolean }>;
}

interface Running {
  task: Task;
  agentId: string;
  control: RunControl;
  startedAt: string;
  startedPerf: number;
  /** The pair's fit features when the attempt started (the neural processor learns from them). */
  fit?: number[] | undefined;
}

/**
 * The neural processor's agent-fit model, as the runner uses it: P(success) for
 * (task, agent) pairs, and the outcomes to learn from.
 */
export interface FitModel {
  score(features: Float32Array, rows: number): Promise<Float32Array>;
  record(samples: FitSample[]): void;
}

interface Slot {
  agent: Agent;
  /** How this agent runs a task when it is not an executor of this node (a remote agent's dispatcher). */
  handler: Handler | undefined;
  deque: Task[];
  running: Map<string, Running>;
  /** Slots promised to submissions being stored right now (direct hand-off). */
  reserved: number;
  /** Agents with the same profile (local, same executor and capabilities) are interchangeable: the fit model has nothing to choose between them. */
  profile: string;
  /** A remote agent whose connection is gone (within its grace): it keeps its running tasks and gets no new ones. */
  unreachable?: boolean;
}

/** Whether an agent is given new tasks: not paused, and (a remote one) connected. */
function takesWork(s: Slot): boolean {
  return !s.agent.paused && s.unreachable !== true;
}

function profileOf(agent: Agent): string {
  const caps = agent.capabilities
    .map((c) => `${c.name}:${c.proficiency}`)
    .sort()
    .join(',');
  return agent.kind === 'local' ? `local|${agent.executor ?? ''}|${caps}` : `remote|${agent.id}`;
}

interface PendingFinish {
  finish: TaskFinish;
  task: Task;
  agentId: string;
  outcome: Outcome;
  durationMs: number;
  fit?: number[] | undefined;
  /** Set when this end replaces one the database refused (so a second refusal is not replaced again). */
  replacesRefused?: true;
}

export interface RunnerStats {
  /** (task, agent) pairs scored by the neural fit model, and scorings that failed (declared scores used). */
  fit_scored: number;
  fit_failures: number;
  handoffs: number;
  buffered: number;
  running: number;
  capacity: number;
  claims: number;
  claimed: number;
  released: number;
  flushes: number;
  stored_finishes: number;
  stale_finishes: number;
  retries_scheduled: number;
  dead: number;
  lease_extensions: number;
  expired_requeued: number;
  work_stealing: { steals: number; attempts: number; deques: Record<string, number> };
}

/** Requeue on abort: the task goes back to pending (agent removed, node stopping). */
export class RequeueReason extends AbortReason {
  constructor(message: string) {
    super('cancelled', message);
  }
}

export class TaskRunner {
  private readonly slots = new Map<string, Slot>();
  /** Starts not stored yet: a task that ends soon is stored once, as ended; a longer one gets its start stored. */
  private readonly starts = new Map<string, { start: TaskStart; perf: number }>();
  private startTimer: NodeJS.Timeout | undefined;
  private finishes: PendingFinish[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private claiming = false;
  /** The last claim got fewer tasks than it asked for: nothing more is ready now. */
  private queueDrained = false;
  private claimAgain = false;
  private wakeQueued = false;
  private stopped = false;
  /** Set while this node is evicted from its cluster (declared dead): it claims nothing until resume(). */
  private evictedFor: string | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private onOutcomes: ((outcomes: AgentOutcome[]) => void) | undefined;
  private fitModel: FitModel | undefined;
  private readonly c = {
    fit_scored: 0,
    fit_failures: 0,
    handoffs: 0,
    claims: 0,
    claimed: 0,
    released: 0,
    flushes: 0,
    stored_finishes: 0,
    stale_finishes: 0,
    retries_scheduled: 0,
    dead: 0,
    lease_extensions: 0,
    expired_requeued: 0,
    steals: 0,
    steal_attempts: 0,
  };

  /** Claims, heartbeats, sweeps and flushes pause while the database is away; ends wait here meanwhile. */
  private readonly outage: OutageTracker;
  /** No claim before this time (an outage's backoff). */
  private claimNotBefore = 0;

  constructor(private readonly o: RunnerOptions) {
    this.outage = new OutageTracker(o.log, 'task runner');
  }

  /** A runner with the [tasks] settings. */
  static fromConfig(
    config: HubConfig,
    parts: Pick<RunnerOptions, 'store' | 'events' | 'log' | 'nodeId' | 'handlers'>,
  ): TaskRunner {
    const t = config.tasks;
    return new TaskRunner({
      ...parts,
      defaultExecutor: config.agents.default_executor,
      leaseMs: t.lease_ms,
      claimBatch: t.claim_batch,
      prefetch: t.prefetch,
      flushWindowMs: t.flush_window_ms,
      flushMax: t.flush_max,
      backoff: {
        initialMs: t.backoff_initial_ms,
        maxMs: t.backoff_max_ms,
        multiplier: t.backoff_multiplier,
        jitter: t.backoff_jitter,
      },
    });
  }

  /**
   * At process start nothing runs here yet: tasks still leased to this node by the
   * process before (killed) go back to pending at once instead of waiting for their
   * leases to expire. Only leases taken before `startedAt`: a task handed off by
   * this process meanwhile is its own. Called once the node lock is held.
   */
  async recover(startedAt: Date): Promise<number> {
    let n = 0;
    const before = startedAt.toISOString();
    for (const task of await this.o.store.listLeasedTasks(this.o.nodeId)) {
      if (task.claimed_at !== null && task.claimed_at >= before) continue;
      const after = await this.o.store.transitionTask(task.id, {
        from: ['assigned', 'running'],
        to: 'pending',
        attempt: task.attempts,
        patch: { assigned_agent: null, lease_owner: null, lease_expires_at: null, started_at: null, claimed_at: null },
        nodeId: this.o.nodeId,
        detail: { reason: 'recovered at start: the previous process of this node held it' },
      });
      if (after !== undefined) n++;
    }
    if (n > 0)
      this.o.log.warn(
        { event: 'task.recovered', count: n },
        `${n} tasks leased to this node by its previous process were requeued`,
      );
    return n;
  }

  /** Places claimed tasks by the neural fit model (P(success) discounted by load) instead of declared capabilities; undefined: declared only. */
  useFitModel(model: FitModel | undefined): void {
    this.fitModel = model;
  }

  /** Called after each stored batch with what each agent did (stats, learning, rates). */
  listen(fn: (outcomes: AgentOutcome[]) => void): void {
    this.onOutcomes = fn;
  }

  private unlisten: (() => Promise<void>) | undefined;

  /** Starts the lease heartbeat, the expiry sweep, the periodic claim (delayed tasks coming due) and LISTEN. */
  start(): void {
    void this.o.store
      .listenForTasks(() => this.wake())
      .then(
        (stop) => (this.unlisten = stop),
        (err: unknown) =>
          this.o.log.warn(
            { err },
            `listening for new tasks failed; polling every second instead: ${errorMessage(err)}`,
          ),
      );
    this.every(Math.max(50, Math.floor(this.o.leaseMs / 3)), () => this.heartbeat());
    this.every(1000, () => this.sweep());
    this.every(1000, () => this.wake());
  }

  /**
   * Adds or updates an agent that runs here (capabilities, pause, max_concurrency).
   * `handler` runs its tasks instead of its executor (a remote agent's dispatcher).
   */
  setAgent(agent: Agent, handler?: Handler): void {
    const slot = this.slots.get(agent.id);
    if (slot === undefined)
      this.slots.set(agent.id, {
        agent,
        handler,
        deque: [],
        running: new Map(),
        reserved: 0,
        profile: profileOf(agent),
      });
    else {
      slot.agent = agent;
      slot.profile = profileOf(agent);
      if (handler !== undefined) slot.handler = handler;
      if (agent.paused) this.rehome(slot.deque.splice(0));
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
  }

  /** Claims soon (coalesced): after submissions, NOTIFY, when deques run low, and every second. */
  wake(): void {
    this.queueDrained = false;
    if (this.wakeQueued || this.stopped) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      void this.claim();
    });
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

  /**
   * Direct hand-off: an idle capable agent here (a free slot, nothing queued) is
   * promised to a task being submitted, which is then stored already claimed by
   * this node and starts without waiting for a claim. Returns the agent, or
   * undefined when none is idle (the task is stored pending and claimed as usual).
   */
  reserve(required: Task['required_capabilities']): string | undefined {
    if (this.stopped || this.evictedFor !== undefined) return undefined;
    let best: Slot | undefined;
    let bestScore = 0;
    for (const s of this.slots.values()) {
      if (!takesWork(s) || s.deque.length > 0 || s.running.size + s.reserved >= s.agent.max_concurrency) continue;
      const score = fitScore(s.agent, required, {
        running: s.running.size + s.reserved,
        capacity: s.agent.max_concurrency,
      });
      if (score > bestScore) {
        best = s;
        bestScore = score;
      }
    }
    if (best === undefined) return undefined;
    best.reserved++;
    return best.agent.id;
  }

  /** Gives a reserved slot back (the submission was a duplicate, or storing it failed). */
  unreserve(agentId: string): void {
    const slot = this.slots.get(agentId);
    if (slot !== undefined) slot.reserved = Math.max(0, slot.reserved - 1);
  }

  /** Starts a task stored already claimed for a reserved agent. */
  handOff(agentId: string, task: Task): void {
    const slot = this.slots.get(agentId);
    if (slot === undefined) {
      void this.release([task], 'its agent left before the hand-off').catch((err: unknown) =>
        this.o.log.warn({ err }, 'releasing a task failed'),
      );
      return;
    }
    slot.reserved = Math.max(0, slot.reserved - 1);
    this.c.handoffs++;
    const placed = { ...task, assigned_agent: agentId };
    this.o.events.publish('tasks', 'task.assigned', placed);
    slot.deque.unshift(placed);
    this.pump(slot);
  }

  /** Tasks an agent runs now. */
  load(agentId: string): number {
    return this.slots.get(agentId)?.running.size ?? 0;
  }

  stats(): RunnerStats {
    let buffered = 0;
    let running = 0;
    let capacity = 0;
    const deques: Record<string, number> = {};
    for (const s of this.slots.values()) {
      buffered += s.deque.length;
      running += s.running.size;
      if (takesWork(s)) capacity += s.agent.max_concurrency;
      deques[s.agent.name] = s.deque.length;
    }
    const { steals, steal_attempts, ...rest } = this.c;
    return { buffered, running, capacity, ...rest, work_stealing: { steals, attempts: steal_attempts, deques } };
  }

  /**
   * Stops claiming, gives deque tasks back, lets running handlers finish for at
   * most graceMs, requeues the rest, and stores every end.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.unlisten?.();
    const queued = [...this.slots.values()].flatMap((s) => s.deque.splice(0));
    await this.release(queued, 'node stopping');
    const deadline = Date.now() + graceMs;
    while ([...this.slots.values()].some((s) => s.running.size > 0) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    for (const s of this.slots.values())
      for (const r of s.running.values()) r.control.abort(new RequeueReason('node stopping'));
    while ([...this.slots.values()].some((s) => s.running.size > 0)) await new Promise((r) => setTimeout(r, 5));
    await this.flushNow();
  }

  private every(ms: number, fn: () => void | Promise<void>): void {
    const t = setInterval(() => {
      void Promise.resolve()
        .then(fn)
        .catch((err: unknown) => this.o.log.error({ err }, `task runner: ${errorMessage(err)}`));
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  /** How many tasks are here and wanted, and the best proficiency on offer per capability (the claim's filter). */
  private capacityTarget(): { buffered: number; target: number; offer: Record<string, number> } {
    let buffered = 0;
    let target = 0;
    const offer: Record<string, number> = {};
    for (const s of this.slots.values()) {
      buffered += s.deque.length + s.running.size;
      if (!takesWork(s)) continue;
      target += s.agent.max_concurrency * this.o.prefetch;
      for (const c of s.agent.capabilities) offer[c.name] = Math.max(offer[c.name] ?? 0, c.proficiency);
    }
    return { buffered, target, offer };
  }

  private async claim(): Promise<void> {
    if (this.stopped || this.evictedFor !== undefined || Date.now() < this.claimNotBefore) return;
    if (this.claiming) {
      this.claimAgain = true; // asked while a claim was in flight: claim again once it is done
      return;
    }
    const { buffered, target, offer } = this.capacityTarget();
    const want = Math.min(this.o.claimBatch, target - buffered);
    if (want <= 0) return;
    this.claiming = true;
    let got = 0;
    try {
      const tasks = await this.o.store.claimTasks({
        nodeId: this.o.nodeId,
        limit: want,
        leaseMs: this.o.leaseMs,
        offer,
      });
      this.outage.ok();
      got = tasks.length;
      this.c.claims++;
      this.c.claimed += got;
      const homeless = this.place(tasks, await this.scoreFit(tasks));
      // Each requirement is on offer, but not all of them from one agent: try again later, not at once.
      if (homeless.length > 0)
        await this.release(homeless, 'no single local agent meets every requirement', UNPLACEABLE_DELAY_MS);
      this.pumpAll();
    } catch (err) {
      if (this.outage.failed(err)) this.claimNotBefore = Date.now() + this.outage.delayMs();
      else this.o.log.warn({ err }, `claiming tasks failed: ${errorMessage(err)}`);
    } finally {
      this.claiming = false;
    }
    const again = this.claimAgain;
    this.claimAgain = false;
    if (got === want || again)
      this.wake(); // there may be more
    else this.queueDrained = true;
  }

  /**
   * P(success) from the fit model for every (task, capable agent) pair of a
   * claimed batch, in one inference; undefined without a model, when there is
   * nothing to choose (a single capable agent, or interchangeable ones), or when
   * the model fails (declared scores then).
   */
  private async scoreFit(tasks: readonly Task[]): Promise<Map<Task, Map<string, number>> | undefined> {
    const model = this.fitModel;
    const slots = [...this.slots.values()].filter(takesWork);
    if (model === undefined || slots.length < 2 || tasks.length === 0) return undefined;
    const pairs: Array<[Task, Slot]> = [];
    for (const t of tasks) {
      const capable = slots.filter((s) => missingCapability(s.agent, t.required_capabilities) === undefined);
      // Interchangeable agents only (a pool of one executor): nothing to choose, load decides.
      if (capable.length < 2 || capable.every((s) => s.profile === capable[0]!.profile)) continue;
      for (const s of capable) pairs.push([t, s]);
    }
    if (pairs.length === 0) return undefined;
    const x = new Float32Array(pairs.length * FIT_WIDTH);
    pairs.forEach(([t, s], i) =>
      writeFitFeatures(
        s.agent,
        fitCapabilities(t.required_capabilities, t.inferred_capabilities),
        this.loadOf(s),
        x,
        i * FIT_WIDTH,
      ),
    );
    let p: Float32Array;
    try {
      p = await model.score(x, pairs.length);
    } catch (err) {
      this.c.fit_failures++;
      this.o.log.warn({ err }, `fit scoring failed; placing by declared capabilities: ${errorMessage(err)}`);
      return undefined;
    }
    this.c.fit_scored += pairs.length;
    const out = new Map<Task, Map<string, number>>();
    pairs.forEach(([t, s], i) => {
      let m = out.get(t);
      if (m === undefined) out.set(t, (m = new Map<string, number>()));
      m.set(s.agent.id, p[i] ?? 0);
    });
    return out;
  }

  private loadOf(s: Slot): { running: number; capacity: number } {
    return { running: s.running.size + s.deque.length, capacity: s.agent.max_concurrency * this.o.prefetch };
  }

  /**
   * Puts each task in the deque of the agent that fits best (load counted): by
   * the fit model's P(success) when `fit` has the task, else by declared
   * capabilities. Returns those no agent can take.
   */
  private place(tasks: readonly Task[], fit?: Map<Task, Map<string, number>>): Task[] {
    const homeless: Task[] = [];
    for (const task of tasks) {
      let best: Slot | undefined;
      let bestScore = 0;
      const p = fit?.get(task);
      for (const s of this.slots.values()) {
        if (!takesWork(s)) continue;
        const pSuccess = p?.get(s.agent.id);
        if (p !== undefined && pSuccess === undefined) continue; // not capable
        const score =
          pSuccess !== undefined
            ? Math.max(1e-6, pSuccess) * loadDiscount(this.loadOf(s))
            : fitScore(s.agent, task.required_capabilities, this.loadOf(s));
        if (score > bestScore) {
          best = s;
          bestScore = score;
        }
      }
      if (best === undefined) {
        homeless.push(task);
        continue;
      }
      // Claimed tasks are this runner's own copies: updated in place rather than copied (fewer allocations per task).
      const placed = task;
      placed.assigned_agent = best.agent.id;
      best.deque.push(placed);
      this.o.events.publish('tasks', 'task.assigned', () => placed);
    }
    return homeless;
  }

  /** Tasks of a removed or paused agent go to other capable agents, or back to pending. */
  private rehome(tasks: Task[]): void {
    const homeless = this.place(tasks);
    if (homeless.length > 0)
      void this.release(homeless, 'its agent left').catch((err: unknown) =>
        this.o.log.warn({ err }, 'releasing tasks failed'),
      );
    this.pumpAll();
  }

  private async release(tasks: readonly Task[], reason: string, delayMs = 0): Promise<void> {
    if (tasks.length === 0) return;
    this.c.released += await this.o.store.releaseTasks(
      tasks.map((t) => ({ id: t.id, epoch: t.lease_epoch })),
      this.o.nodeId,
      reason,
      delayMs,
    );
    for (const t of tasks)
      this.o.events.publish('tasks', 'task.requeued', { ...t, status: 'pending', assigned_agent: null });
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
    if (started === 0 || this.queueDrained) return;
    const { buffered, target } = this.capacityTarget();
    if (buffered * 2 <= target) this.wake();
  }

  /** Takes the last compatible task of the deepest other deque. */
  private steal(thief: Slot): Task | undefined {
    this.c.steal_attempts++;
    let victim: Slot | undefined;
    let index = -1;
    for (const s of this.slots.values()) {
      if (s === thief || s.deque.length <= (victim?.deque.length ?? 0)) continue;
      for (let i = s.deque.length - 1; i >= 0; i--) {
        if (missingCapability(thief.agent, s.deque[i]?.required_capabilities ?? []) === undefined) {
          victim = s;
          index = i;
          break;
        }
      }
    }
    if (victim === undefined || index < 0) return undefined;
    const [task] = victim.deque.splice(index, 1);
    this.c.steals++;
    if (task !== undefined) task.assigned_agent = thief.agent.id;
    return task;
  }

  private handlerFor(slot: Slot): Handler {
    const agent = slot.agent;
    if (slot.handler !== undefined) return slot.handler;
    const handler = this.o.handlers.get(agent.executor ?? this.o.defaultExecutor);
    if (handler !== undefined) return handler;
    return () => {
      throw new TaskFailure(
        `agent ${agent.name} has executor "${agent.executor}", which this node does not have`,
        true,
        'EXECUTOR_MISSING',
      );
    };
  }

  private run(slot: Slot, task: Task): void {
    const agent = slot.agent;
    task.assigned_agent = agent.id;
    const r: Running = {
      task,
      agentId: agent.id,
      control: new RunControl(),
      startedAt: nowIso(),
      startedPerf: performance.now(),
    };
    if (this.fitModel !== undefined) {
      r.fit = new Array<number>(FIT_WIDTH);
      writeFitFeatures(
        agent,
        fitCapabilities(task.required_capabilities, task.inferred_capabilities),
        { running: slot.running.size, capacity: agent.max_concurrency },
        r.fit,
      );
    }
    slot.running.set(task.id, r);
    this.starts.set(task.id, {
      start: { id: task.id, epoch: task.lease_epoch, agentId: agent.id, startedAt: r.startedAt },
      perf: r.startedPerf,
    });
    this.startTimer ??= setTimeout(() => {
      this.startTimer = undefined;
      void this.flushNow();
    }, START_DELAY_MS);
    const input = {
      id: task.id,
      title: task.title,
      description: task.description,
      type: task.type,
      priority: task.priority,
      payload: task.payload,
      attempt: task.attempts,
      timeout_ms: task.timeout_ms,
    };
    const parent = this.o.log;
    // A child logger per task is costly on the hot path: made only if the handler logs.
    const ctx = {
      agent: { id: agent.id, name: agent.name },
      get log(): Logger {
        return parent.child({ task_id: task.id, agent_id: agent.id });
      },
    };
    void execute(this.handlerFor(slot), input, ctx, r.control).then((outcome) => this.ended(slot, r, outcome));
  }

  private ended(slot: Slot, r: Running, outcome: Outcome): void {
    slot.running.delete(r.task.id);
    const finish = this.finishFor(r, outcome);
    if (finish !== undefined) {
      this.finishes.push({
        finish,
        task: r.task,
        agentId: r.agentId,
        outcome,
        durationMs: performance.now() - r.startedPerf,
        fit: r.fit,
      });
      this.scheduleFlush();
    }
    this.pump(slot);
  }

  private finishFor(r: Running, outcome: Outcome): TaskFinish | undefined {
    const t = r.task;
    const base = { id: t.id, epoch: t.lease_epoch, agentId: r.agentId, startedAt: r.startedAt };
    const now = nowIso();
    switch (outcome.kind) {
      case 'completed':
        return { ...base, status: 'completed', result: outcome.result, resultJson: outcome.json, completedAt: now };
      case 'cancelled': {
        // Cancelled through the API: storage already says so. Aborted to requeue: back to pending now.
        const reason: unknown = r.control.reason;
        if (!(reason instanceof RequeueReason)) return undefined;
        return { ...base, status: 'pending', completedAt: null, runAt: null, detail: { reason: reason.message } };
      }
      case 'failed': {
        const next = afterFailure(this.o.backoff, outcome.error.retryable, t.attempts, t.max_attempts);
        const detail = { code: outcome.error.code, attempt: t.attempts, max_attempts: t.max_attempts };
        if (next.action === 'retry') {
          return {
            ...base,
            status: 'pending',
            error: outcome.error,
            completedAt: null,
            runAt: new Date(Date.now() + next.delayMs).toISOString(),
            detail: { ...detail, reason: 'retry', delay_ms: next.delayMs },
          };
        }
        return { ...base, status: next.action, error: outcome.error, completedAt: now, detail };
      }
    }
  }

  private scheduleFlush(): void {
    if (this.finishes.length >= this.o.flushMax) {
      if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      void this.flushNow();
      return;
    }
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      void this.flushNow();
    }, this.o.flushWindowMs);
  }

  /** Stores what is waiting; one flush at a time, the next one picks up what arrived meanwhile. */
  private async flushNow(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    if (this.starts.size === 0 && this.finishes.length === 0) return;
    this.flushing = this.flush().finally(() => (this.flushing = undefined));
    await this.flushing;
    if (this.finishes.length > 0) this.scheduleFlush();
    if (this.starts.size > 0) {
      this.startTimer ??= setTimeout(() => {
        this.startTimer = undefined;
        void this.flushNow();
      }, START_DELAY_MS);
    }
  }

  /** Starts to store now: tasks still running after START_DELAY_MS (ended ones are stored with their end). */
  private dueStarts(): TaskStart[] {
    const ending = new Set(this.finishes.map((f) => f.finish.id));
    const now = performance.now();
    const due: TaskStart[] = [];
    for (const [id, s] of this.starts) if (!ending.has(id) && now - s.perf >= START_DELAY_MS) due.push(s.start);
    return due;
  }

  private async flush(): Promise<void> {
    const starts = this.dueStarts();
    const finishes = this.finishes.splice(0, this.o.flushMax);
    try {
      const startedIds = await this.storeStarts(starts);
      for (const st of starts) this.starts.delete(st.id);
      const { stored, out } = await this.storeFinishes(finishes);
      this.outage.ok();
      if (stored.length > 0) this.c.flushes++;
      this.publishStarts(startedIds);
      // Ends whose start was never stored on its own: their start is published with them, in lifecycle order.
      const coalesced = new Set(stored.filter((f) => this.starts.delete(f.finish.id)).map((f) => f.finish.id));
      this.publishEnds(stored, new Set(out.applied.map((a) => a.id)), coalesced);
      this.c.stale_finishes += out.stale.length;
      if (out.stale.length > 0)
        this.o.log.warn(
          { event: 'task.stale_finish', count: out.stale.length, task_ids: out.stale.slice(0, 10) },
          `${out.stale.length} task ends refused: the tasks had moved on (lease expired, cancelled or claimed again)`,
        );
      for (const t of out.cascaded) this.o.events.publish('tasks', 'task.cancelled', t);
      if (out.applied.some((a) => a.status === 'completed')) this.wake(); // dependants may be ready
    } catch (err) {
      // Nothing is dropped: the batch goes back to the front and is tried again (bounded: claims pause meanwhile).
      this.finishes.unshift(...finishes);
      if (!this.outage.failed(err))
        this.o.log.error(
          { err, waiting: this.finishes.length },
          `storing task ends failed, retrying: ${errorMessage(err)}`,
        );
      await new Promise((r) => setTimeout(r, this.outage.down ? this.outage.delayMs() : 200));
    }
  }

  /** Stores starts in one statement; one the database refuses is logged and dropped (the task's end is stored anyway). */
  private async storeStarts(starts: TaskStart[]): Promise<string[]> {
    if (starts.length === 0) return [];
    const written = await writeIsolating(
      starts,
      (part) => this.o.store.startTasks(part),
      (st, err) => {
        this.starts.delete(st.id);
        this.o.log.error(
          { event: 'task.start_refused', task_id: st.id, err },
          `the database refused the start of task ${st.id} (its neighbours were stored): ${err.message}`,
        );
      },
    );
    if (written.unwritten !== undefined) throw written.unwritten.err;
    return written.parts.flatMap((p) => p.result);
  }

  /**
   * Stores ends in one statement; an end the database refuses on its own account
   * (a result it cannot hold) is replaced by a failed attempt, and its neighbours
   * are stored. An outage midway puts what was not stored back at the front, and
   * throws so the caller waits.
   */
  private async storeFinishes(finishes: PendingFinish[]): Promise<{ stored: PendingFinish[]; out: FinishOutcome }> {
    const out: FinishOutcome = { applied: [], stale: [], cascaded: [] };
    if (finishes.length === 0) return { stored: [], out };
    const replaced: PendingFinish[] = [];
    const written = await writeIsolating(
      finishes,
      (part) =>
        this.o.store.finishTasks(
          part.map((f) => f.finish),
          this.o.nodeId,
        ),
      (f, err) => {
        const r = this.refused(f, err);
        if (r !== undefined) replaced.push(r);
      },
    );
    // Nothing stored before the outage: the caller puts the whole batch back (the refused ones are found again).
    if (written.unwritten !== undefined && written.parts.length === 0) throw written.unwritten.err;
    this.finishes.unshift(...replaced, ...(written.unwritten?.items ?? []));
    for (const p of written.parts) {
      out.applied.push(...p.result.applied);
      out.stale.push(...p.result.stale);
      out.cascaded.push(...p.result.cascaded);
    }
    return { stored: written.parts.flatMap((p) => p.items), out };
  }

  /** The end to store instead of one the database refused: a failed attempt with RESULT_UNSTORABLE, under the task's retry policy. */
  private refused(f: PendingFinish, err: HubError): PendingFinish | undefined {
    this.o.log.error(
      { event: 'task.end_refused', task_id: f.task.id, agent_id: f.agentId, err },
      `the database refused the end of task ${f.task.id} (its neighbours were stored): ${err.message}`,
    );
    if (f.replacesRefused === true) return undefined; // refused twice: its lease runs out and it is requeued
    const outcome: Outcome = {
      kind: 'failed',
      error: {
        code: 'RESULT_UNSTORABLE',
        message: `the database refused this attempt's end: ${err.message}`.replaceAll('\u0000', ''),
        retryable: true,
      },
    };
    const finish = this.finishFor(
      {
        task: f.task,
        agentId: f.agentId,
        control: new RunControl(),
        startedAt: f.finish.startedAt ?? nowIso(),
        startedPerf: 0,
      },
      outcome,
    );
    return finish === undefined ? undefined : { ...f, finish, outcome, replacesRefused: true };
  }

  /** Starts stored on their own (long tasks); coalesced ones are published with their ends, in lifecycle order. */
  private publishStarts(startedIds: string[]): void {
    for (const id of startedIds) this.o.events.publish('tasks', 'task.started', this.view(id, 'running'));
  }

  private view(taskId: string, status: Task['status']): Partial<Task> {
    for (const slot of this.slots.values()) {
      const r = slot.running.get(taskId);
      if (r !== undefined) return { ...r.task, status, started_at: r.startedAt };
    }
    return { id: taskId, status };
  }

  private publishEnds(finishes: PendingFinish[], applied: Set<string>, coalesced: Set<string>): void {
    const outcomes = new Map<string, AgentOutcome>();
    const samples: FitSample[] = [];
    for (const f of finishes) {
      if (!applied.has(f.finish.id)) continue;
      if (f.fit !== undefined && (f.outcome.kind === 'completed' || f.outcome.kind === 'failed'))
        samples.push({ features: f.fit, success: f.outcome.kind === 'completed' });
      // Event data is built only if a listener reads it (most only count events).
      const t = (): Task => ({
        ...f.task,
        status: f.finish.status,
        started_at: f.finish.startedAt,
        completed_at: f.finish.completedAt,
        result: f.finish.status === 'completed' ? (f.finish.result ?? null) : null,
        error: f.finish.error ?? null,
        assigned_agent: f.finish.status === 'pending' ? null : f.agentId,
      });
      if (coalesced.has(f.finish.id))
        this.o.events.publish('tasks', 'task.started', () => ({
          ...t(),
          status: 'running',
          completed_at: null,
          result: null,
          error: null,
          assigned_agent: f.agentId,
        }));
      this.c.stored_finishes++;
      if (f.finish.status === 'completed') this.o.events.publish('tasks', 'task.completed', t);
      else if (f.finish.status === 'pending') {
        if (f.outcome.kind === 'failed') this.c.retries_scheduled++;
        this.o.events.publish('tasks', f.outcome.kind === 'failed' ? 'task.retrying' : 'task.requeued', t);
      } else {
        if (f.finish.status === 'dead') this.c.dead++;
        this.o.events.publish('tasks', f.finish.status === 'dead' ? 'task.dead' : 'task.failed', t);
      }
      if (f.outcome.kind === 'completed' || f.outcome.kind === 'failed') {
        const o = outcomes.get(f.agentId) ?? {
          agentId: f.agentId,
          completed: 0,
          failed: 0,
          durationMsTotal: 0,
          results: [],
        };
        if (f.outcome.kind === 'completed') o.completed++;
        else o.failed++;
        o.durationMsTotal += f.durationMs;
        o.results.push({ required: f.task.required_capabilities, success: f.outcome.kind === 'completed' });
        outcomes.set(f.agentId, o);
      }
    }
    if (outcomes.size > 0) this.onOutcomes?.([...outcomes.values()]);
    if (samples.length > 0) this.fitModel?.record(samples);
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    this.c.lease_extensions += await this.whileUp(() => this.o.store.extendLeases(this.o.nodeId, this.o.leaseMs), 0);
  }

  /** Runs a periodic store call; during an outage it is skipped quietly (the tracker logged it once) and gives `fallback`. */
  private async whileUp<T>(call: () => Promise<T>, fallback: T): Promise<T> {
    try {
      const v = await call();
      this.outage.ok();
      return v;
    } catch (err) {
      if (this.outage.failed(err)) return fallback;
      throw err;
    }
  }

  private async sweep(): Promise<void> {
    if (this.stopped) return;
    const requeued = await this.whileUp(() => this.o.store.requeueExpired(this.o.nodeId, 1000), []);
    if (requeued.length === 0) return;
    this.c.expired_requeued += requeued.length;
    this.o.log.warn(
      { event: 'task.lease_expired', count: requeued.length },
      `${requeued.length} tasks whose lease expired were requeued`,
    );
    for (const t of requeued) this.o.events.publish('tasks', 'task.requeued', t);
    this.wake();
  }
}
