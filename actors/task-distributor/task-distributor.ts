/**
 * task_management: accepts tasks and distributes them to this node's agents.
 * A dispatch round asks agent_management which local agents have free slots,
 * reads ready tasks in priority-then-FIFO order, gives each the best-fitting
 * capable agent (src/domain fitScore), assigns it with a compare-and-set and a
 * lease, and hands it over. Rounds run after a submission, when a task leaves
 * an agent, and every tick (which also requeues tasks whose lease expired with
 * no execution holding them).
 * State: counters and windows since start; every task change is stored before
 * the reply or the hand-over, so a restart or reset never loses a task.
 * Accepts TaskManagementMsg.
 */
import { fitScore, sourcesOf, isTerminal, type NewTask, type Task, type TaskStatus } from '../../src/domain/index.js';
import { HubError, assertNever } from '../../src/errors/index.js';
import { RateWindow, SampleWindow, round2 } from '../../src/metrics/windows.js';
import type { ActorContext, ActorRef, ActorSpec, ReplyTo } from '../../src/runtime/index.js';
import type { AgentManagementMsg, AgentSlot } from '../agent-management/messages.js';
import { AbortReason } from '../agent/execute.js';
import type { TaskDone } from '../agent/messages.js';
import type { ModuleDeps } from '../shared/deps.js';
import { answer } from '../shared/answer.js';
import { requeueTask } from '../shared/requeue.js';
import type { Submitted, TaskDetail, TaskManagementMsg, TaskSummary } from './messages.js';

export interface TaskPeers {
  agents?: ActorRef<AgentManagementMsg>;
}

type Ctx = ActorContext<TaskManagementMsg>;

/** A lease outlives the task's timeout by this much: it only expires when an execution was lost. */
const LEASE_GRACE_MS = 30_000;

/** A dispatch round reads at most this many ready tasks looking for ones its free agents can take. */
const MAX_SCAN_PER_ROUND = 5000;

interface State {
  stopped: boolean;
  counts: { at: number; value: Record<TaskStatus, number> } | undefined;
  dispatchQueued: boolean;
  since: TaskSummary['since_start'];
  dist: TaskSummary['distribution'];
  finishes: RateWindow;
  durations: SampleWindow;
}

function freshState(): State {
  return {
    stopped: false,
    counts: undefined,
    dispatchQueued: false,
    since: { submitted: 0, deduplicated: 0, assigned: 0, completed: 0, failed: 0, cancelled: 0, requeued: 0, retried: 0 },
    dist: { dispatch_rounds: 0, assignments: 0, manual_assignments: 0, unmatched_skips: 0, stale_dispatches: 0, lease_expiries: 0 },
    finishes: new RateWindow(60),
    durations: new SampleWindow(1024),
  };
}

/** Task counts by status from storage (the truth), cached for half a second. */
async function counts(deps: ModuleDeps, state: State): Promise<Record<TaskStatus, number>> {
  if (state.counts === undefined || Date.now() - state.counts.at > 500) state.counts = { at: Date.now(), value: await deps.store.countTasksByStatus() };
  return state.counts.value;
}

function queueDispatch(state: State, ctx: Ctx): void {
  if (state.dispatchQueued) return;
  state.dispatchQueued = true;
  ctx.tell(ctx.self, { type: 'task.dispatch' });
}

/** Refuses a submission of n tasks that would pass [tasks] max_pending. */
async function checkRoom(deps: ModuleDeps, state: State, n: number): Promise<void> {
  const pending = (await counts(deps, state)).pending;
  const max = deps.config.tasks.max_pending;
  if (pending + n > max) {
    throw new HubError('QUEUE_FULL', `${pending} tasks are pending ([tasks] max_pending = ${max}); ${n === 1 ? 'this task does' : `these ${n} tasks do`} not fit; retry later`, {
      details: { pending, max_pending: max, submitted: n },
    });
  }
}

function accepted(deps: ModuleDeps, state: State, result: Submitted): Submitted {
  if (result.created) {
    state.since.submitted++;
    if (state.counts !== undefined) state.counts.value.pending++;
    deps.events.publish('tasks', 'task.created', result.task);
  } else {
    state.since.deduplicated++;
  }
  return result;
}

async function submitOne(deps: ModuleDeps, state: State, task: NewTask): Promise<Submitted> {
  await checkRoom(deps, state, 1);
  return accepted(deps, state, await deps.store.createTask(task, deps.nodeId));
}

/** A bulk submission is one transaction: every task is stored, or none. */
async function submitMany(deps: ModuleDeps, state: State, tasks: NewTask[]): Promise<Submitted[]> {
  await checkRoom(deps, state, tasks.length);
  return (await deps.store.createTasks(tasks, deps.nodeId)).map((r) => accepted(deps, state, r));
}

async function getTask(deps: ModuleDeps, id: string): Promise<Task> {
  const task = await deps.store.getTask(id);
  if (task === undefined) throw new HubError('TASK_NOT_FOUND', `no task with id ${id}`, { details: { task_id: id } });
  return task;
}

async function detail(deps: ModuleDeps, id: string): Promise<TaskDetail> {
  const task = await getTask(deps, id);
  return { ...task, events: await deps.store.listTaskEvents(id) };
}

async function cancel(deps: ModuleDeps, state: State, id: string, reason: string): Promise<Task> {
  const before = await getTask(deps, id);
  const refuse = (status: TaskStatus): HubError =>
    new HubError('INVALID_STATE', `task ${id} is ${status}; only tasks that have not ended can be cancelled`, { details: { task_id: id, status } });
  if (isTerminal(before.status)) throw refuse(before.status);
  const after = await deps.store.transitionTask(id, { from: sourcesOf('cancelled'), to: 'cancelled', nodeId: deps.nodeId, detail: { reason }, patch: { completed_at: new Date().toISOString(), lease_owner: null, lease_expires_at: null } });
  if (after === undefined) throw refuse((await getTask(deps, id)).status); // it ended meanwhile
  // A running handler is told through its signal; its late result is refused by the compare-and-set.
  deps.executions.abort(id, new AbortReason('cancelled', reason));
  state.since.cancelled++;
  deps.log.info({ event: 'task.cancelled', task_id: id, reason }, 'task cancelled');
  deps.events.publish('tasks', 'task.cancelled', after);
  return after;
}

async function retry(deps: ModuleDeps, state: State, id: string, ctx: Ctx): Promise<Task> {
  const before = await getTask(deps, id);
  if (before.status !== 'failed' && before.status !== 'dead') {
    throw new HubError('INVALID_STATE', `task ${id} is ${before.status}; only failed or dead tasks can be retried`, { details: { task_id: id, status: before.status } });
  }
  const after = await deps.store.transitionTask(id, {
    from: ['failed', 'dead'],
    to: 'pending',
    patch: { attempts: 0, error: null, result: null, assigned_agent: null, started_at: null, completed_at: null, lease_owner: null, lease_expires_at: null },
    nodeId: deps.nodeId,
    detail: { reason: 'retried by request' },
  });
  if (after === undefined) throw new HubError('INVALID_STATE', `task ${id} changed meanwhile; try again`, { details: { task_id: id } });
  state.since.retried++;
  deps.events.publish('tasks', 'task.requeued', after);
  queueDispatch(state, ctx);
  return after;
}

/** Moves a pending task to an agent (compare-and-set) and hands it over. */
async function assignTo(deps: ModuleDeps, peers: TaskPeers, state: State, task: Task, agentId: string, how: string, ctx: Ctx): Promise<Task | undefined> {
  const now = Date.now();
  const assigned = await deps.store.transitionTask(task.id, {
    from: ['pending'],
    to: 'assigned',
    attempt: task.attempts,
    patch: { assigned_agent: agentId, attempts: task.attempts + 1, lease_owner: deps.nodeId, lease_expires_at: new Date(now + task.timeout_ms + LEASE_GRACE_MS).toISOString() },
    nodeId: deps.nodeId,
    detail: { reason: how },
  });
  if (assigned === undefined) return undefined;
  state.since.assigned++;
  deps.events.publish('tasks', 'task.assigned', assigned);
  try {
    if (peers.agents === undefined) throw new HubError('MODULE_UNAVAILABLE', 'agent_management is not available');
    ctx.tell(peers.agents, { type: 'agent.dispatch', agentId, task: assigned });
  } catch (err) {
    // agent_management cannot take the hand-over (full or stopped): the task goes straight back.
    deps.log.warn({ err, task_id: task.id, agent_id: agentId }, 'could not hand a task to agent_management; requeued');
    await requeueTask(deps, assigned, 'hand-over to agent_management failed');
    return undefined;
  }
  return assigned;
}

function bestSlot(slots: AgentSlot[], task: Task): AgentSlot | undefined {
  let best: AgentSlot | undefined;
  let bestScore = 0;
  for (const slot of slots) {
    if (slot.free <= 0) continue;
    const score = fitScore(slot.agent, task.required_capabilities, { running: slot.running, capacity: slot.agent.max_concurrency });
    if (score > bestScore) {
      best = slot;
      bestScore = score;
    }
  }
  return best;
}

async function dispatchRound(deps: ModuleDeps, peers: TaskPeers, state: State, ctx: Ctx): Promise<void> {
  state.dispatchQueued = false;
  if (peers.agents === undefined || state.stopped) return;
  let slots: AgentSlot[];
  try {
    slots = await ctx.ask(peers.agents, (replyTo: ReplyTo<AgentSlot[]>): AgentManagementMsg => ({ type: 'agent.available', replyTo }));
  } catch (err) {
    // agent_management is restarting or failed: the next tick or finished task tries again.
    if (!(err instanceof HubError)) throw err;
    deps.log.warn({ code: err.code }, `dispatch round skipped: ${err.message}`);
    return;
  }
  const free = slots.reduce((n, s) => n + s.free, 0);
  if (free === 0) return;
  state.dist.dispatch_rounds++;
  // Read past the free slots so that tasks no free agent can take do not block those
  // behind them; page on while slots are left, up to a bound per round.
  const pageSize = Math.min(500, free * 8);
  let left = free;
  for (let offset = 0; left > 0 && offset < MAX_SCAN_PER_ROUND; ) {
    const ready = await deps.store.listReadyTasks(pageSize, offset);
    let taken = 0;
    for (const task of ready) {
      if (left === 0) break;
      const slot = bestSlot(slots, task);
      if (slot === undefined) {
        state.dist.unmatched_skips++;
        continue;
      }
      if ((await assignTo(deps, peers, state, task, slot.agent.id, 'dispatched', ctx)) === undefined) continue;
      state.dist.assignments++;
      slot.free--;
      slot.running++;
      left--;
      taken++;
    }
    if (ready.length < pageSize) break;
    offset += ready.length - taken; // assigned tasks left the pending set
  }
}

async function manualAssign(deps: ModuleDeps, peers: TaskPeers, state: State, taskId: string, agentId: string, ctx: Ctx): Promise<Task> {
  const task = await getTask(deps, taskId);
  if (task.status !== 'pending') {
    throw new HubError('INVALID_STATE', `task ${taskId} is ${task.status}; only pending tasks can be assigned`, { details: { task_id: taskId, status: task.status } });
  }
  if (peers.agents === undefined) throw new HubError('MODULE_UNAVAILABLE', 'agent_management is not available');
  await ctx.ask(peers.agents, (replyTo: ReplyTo<AgentSlot>): AgentManagementMsg => ({ type: 'agent.check_assignable', id: agentId, required: task.required_capabilities, replyTo }));
  const assigned = await assignTo(deps, peers, state, task, agentId, 'assigned by request', ctx);
  if (assigned === undefined) throw new HubError('INVALID_STATE', `task ${taskId} was taken meanwhile`, { details: { task_id: taskId } });
  state.dist.manual_assignments++;
  return assigned;
}

function finished(state: State, done: TaskDone, ctx: Ctx): void {
  if (done.outcome === 'completed' || done.outcome === 'failed') {
    state.finishes.record();
    state.durations.record(done.durationMs);
    if (done.outcome === 'completed') state.since.completed++;
    else state.since.failed++;
  } else if (done.outcome === 'stale') {
    state.dist.stale_dispatches++;
  }
  state.counts = undefined;
  queueDispatch(state, ctx);
}

/** Requeues tasks whose lease ran out while no execution on this node holds them. */
async function tick(deps: ModuleDeps, peers: TaskPeers, state: State, ctx: Ctx): Promise<void> {
  const now = Date.now();
  for (const task of await deps.store.listLeasedTasks(deps.nodeId)) {
    if (deps.executions.has(task.id) || Date.parse(task.lease_expires_at ?? '') > now) continue;
    if ((await requeueTask(deps, task, 'lease expired')) === undefined) continue;
    state.dist.lease_expiries++;
    state.since.requeued++;
    if (peers.agents !== undefined && task.assigned_agent !== null) {
      ctx.tell(peers.agents, { type: 'agent.task_done', done: { agentId: task.assigned_agent, taskId: task.id, outcome: 'stale', durationMs: 0 } });
    }
  }
  queueDispatch(state, ctx);
}

async function summarize(deps: ModuleDeps, state: State): Promise<TaskSummary> {
  const c = await counts(deps, state);
  const ended = c.completed + c.failed + c.dead;
  return {
    by_status: { ...c },
    queue_depth: c.pending,
    max_pending: deps.config.tasks.max_pending,
    totals: { submitted: Object.values(c).reduce((a, b) => a + b, 0), completed: c.completed, failed: c.failed, dead: c.dead, cancelled: c.cancelled },
    since_start: { ...state.since },
    tasks_per_second: round2(state.finishes.rate()),
    average_task_ms: round2(state.durations.mean()),
    p99_task_ms: round2(state.durations.percentile(99)),
    success_rate: ended === 0 ? 1 : round2(c.completed / ended),
    distribution: { ...state.dist },
  };
}

/** The task_management module actor. */
export function taskManagementSpec(deps: ModuleDeps, peers: TaskPeers): ActorSpec<TaskManagementMsg, State> {
  return {
    name: 'task_management',
    init: (ctx) => {
      const state = freshState();
      queueDispatch(state, ctx);
      return state;
    },
    receive: async (state, msg, ctx) => {
      switch (msg.type) {
        case 'task.submit':
          await answer(msg.replyTo, () => submitOne(deps, state, msg.task));
          queueDispatch(state, ctx);
          return state;
        case 'task.submit_bulk':
          await answer(msg.replyTo, () => submitMany(deps, state, msg.tasks));
          queueDispatch(state, ctx);
          return state;
        case 'task.get':
          await answer(msg.replyTo, () => detail(deps, msg.id));
          return state;
        case 'task.list':
          await answer(msg.replyTo, () => deps.store.listTasks(msg.filter));
          return state;
        case 'task.cancel':
          await answer(msg.replyTo, () => cancel(deps, state, msg.id, msg.reason));
          return state;
        case 'task.retry':
          await answer(msg.replyTo, () => retry(deps, state, msg.id, ctx));
          return state;
        case 'task.assign':
          await answer(msg.replyTo, () => manualAssign(deps, peers, state, msg.taskId, msg.agentId, ctx));
          return state;
        case 'task.summarize':
          await answer(msg.replyTo, () => summarize(deps, state));
          return state;
        case 'task.dispatch':
          await dispatchRound(deps, peers, state, ctx);
          return state;
        case 'task.finished':
          finished(state, msg.done, ctx);
          return state;
        case 'task.tick':
          await tick(deps, peers, state, ctx);
          return state;
        case 'task.stop_dispatch':
          state.stopped = true;
          return state;
        case 'module.ping':
          msg.replyTo.ok(true);
          return state;
        default:
          return assertNever(msg);
      }
    },
  };
}
