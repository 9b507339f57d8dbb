/**
 * task_management: accepts, tracks, cancels, retries and assigns tasks; the
 * node's task engine (src/engine) claims and runs them. Submissions (room,
 * inference, group commit, bulk) are in submissions.ts, the state in state.ts.
 * State: counters and windows since start; every task change is stored before
 * the reply, so a restart or reset never loses a task. Accepts TaskManagementMsg.
 */
import {
  REDRIVE_PATCH,
  changeEvent,
  explainTask,
  isTerminal,
  taskHistory,
  type Explanation,
  type Task,
  type TaskStatus,
} from '../../src/domain/index.js';
import { HubError, assertNever } from '../../src/errors/index.js';
import { round2 } from '../../src/metrics/windows.js';
import { isFlowMsg, serveFlow, type FlowMsg } from './flow.js';
import { isWorkflowMsg, serveWorkflow, type WorkflowMsg } from './workflow.js';
import type { ActorSpec, ReplyTo } from '../../src/runtime/index.js';
import type { AgentManagementMsg, AgentSlot } from '../agent-management/messages.js';
import { getTask, isViewMsg, serveView, type ViewMsg } from './views.js';
import type { ModuleDeps } from '../shared/deps.js';
import { answer } from '../shared/answer.js';
import type { QueueFigures, Redriven, TaskDetail, TaskManagementMsg, TaskSummary, Waiting } from './messages.js';
import { listAllAgents, type Page, type TaskFilter } from '../../src/storage/index.js';
import { freshState, type Ctx, type State, type TaskPeers } from './state.js';
import { applyTally, startFlush, submitMany } from './submissions.js';

export type { TaskPeers };

async function detail(deps: ModuleDeps, id: string): Promise<TaskDetail> {
  const task = await getTask(deps, id);
  const [recorded, dependsOn] = await Promise.all([deps.store.listTaskEvents(id), deps.store.listDependencies(id)]);
  return { ...task, depends_on: dependsOn, events: taskHistory(task, recorded) as TaskDetail['events'] };
}

/** Why the task is not running: its dependencies, run_at, the agents of every node, and its place in claim order. */
async function explain(deps: ModuleDeps, id: string): Promise<Explanation> {
  const task = await getTask(deps, id);
  if (task.status !== 'pending')
    return explainTask({ task, dependencies: [], agents: [], events: [], now: Date.now() });
  const [dependencies, agents, ahead, events, blocks, fair] = await Promise.all([
    deps.store.listDependencyStatuses([id]).then((m) => m.get(id) ?? []),
    listAllAgents(deps.store),
    deps.store.countReadyAhead(id, new Date()),
    deps.store.listTaskEvents(id),
    deps.store.flowBlocks([task]),
    deps.store.fairPosition(task),
  ]);
  const block = blocks.get(id);
  const flow = block && { ...block, ahead: await deps.store.countKeyAhead(id, block.key) };
  return explainTask({ task, dependencies, agents, events, ahead, flow, fair, now: Date.now() });
}

/** A page of pending tasks, each with why it waits (the claim-order count is left to explain). */
async function listWaiting(deps: ModuleDeps, filter: TaskFilter): Promise<Page<Task & { waiting: Waiting }>> {
  const page = await deps.store.listTasks(filter);
  const ids = page.items.map((t) => t.id);
  const [byTask, agents, blocks] = await Promise.all([
    deps.store.listDependencyStatuses(ids),
    listAllAgents(deps.store),
    deps.store.flowBlocks(page.items),
  ]);
  const now = Date.now();
  const items = await Promise.all(
    page.items.map(async (task) => {
      // Only a run_at in the future needs the events (a retry, a release or a schedule).
      const later = task.run_at !== null && Date.parse(task.run_at) > now;
      const events = later ? await deps.store.listTaskEvents(task.id) : [];
      const flow = blocks.get(task.id);
      const e = explainTask({ task, dependencies: byTask.get(task.id) ?? [], agents, events, flow, now });
      return { ...task, waiting: { code: e.code, message: e.message } };
    }),
  );
  return { total: page.total, items };
}

async function cancel(deps: ModuleDeps, state: State, id: string, reason: string): Promise<Task> {
  const before = await getTask(deps, id);
  const refuse = (status: TaskStatus): HubError =>
    new HubError('INVALID_STATE', `task ${id} is ${status}; only tasks that have not ended can be cancelled`, {
      details: { task_id: id, status },
    });
  if (isTerminal(before.status)) throw refuse(before.status);
  const changed: Task[] = [];
  const after = await deps.store.transitionTask(id, {
    op: 'cancel',
    nodeId: deps.nodeId,
    detail: { reason },
    patch: { completed_at: new Date().toISOString(), lease_owner: null, lease_expires_at: null },
    onChanged: (tasks) => changed.push(...tasks),
  });
  if (after === undefined) throw refuse((await getTask(deps, id)).status); // it ended meanwhile
  // A running handler is told through its signal; its late result is refused by the fenced finish.
  deps.engine.abort(id, reason);
  state.since.cancelled++;
  deps.log.info({ event: 'task.cancelled', task_id: id, reason }, 'task cancelled');
  deps.events.publish('tasks', 'task.cancelled', after);
  for (const t of await deps.store.cancelDependants([id], `a task it depends on was cancelled (${id})`, deps.nodeId))
    deps.events.publish('tasks', 'task.cancelled', t);
  // Its descendants are cancelled too (their running handlers here aborted); its waiting parent looks at its children again.
  for (const t of await deps.store.cancelChildren([id], `its parent ${id} was cancelled`, deps.nodeId)) {
    deps.engine.abort(t.id, `its parent ${id} was cancelled`);
    deps.events.publish('tasks', 'task.cancelled', t);
  }
  for (const t of changed) deps.events.publish('tasks', changeEvent(t), t);
  if (changed.length > 0) deps.engine.wake();
  return after;
}

async function retry(deps: ModuleDeps, state: State, id: string): Promise<Task> {
  const before = await getTask(deps, id);
  if (before.status !== 'failed' && before.status !== 'dead') {
    throw new HubError('INVALID_STATE', `task ${id} is ${before.status}; only failed or dead tasks can be retried`, {
      details: { task_id: id, status: before.status },
    });
  }
  const after = await deps.store.transitionTask(id, {
    op: 'redrive',
    patch: REDRIVE_PATCH,
    nodeId: deps.nodeId,
    detail: { reason: 'retried by request' },
  });
  if (after === undefined)
    throw new HubError('INVALID_STATE', `task ${id} changed meanwhile; try again`, { details: { task_id: id } });
  state.since.retried++;
  deps.events.publish('tasks', 'task.requeued', after);
  deps.engine.wake();
  return after;
}

/** Bulk redrive of the dead-letter set (or of failed tasks). */
async function redrive(
  deps: ModuleDeps,
  state: State,
  status: 'failed' | 'dead',
  ids: string[] | undefined,
  limit: number,
): Promise<Redriven> {
  const candidates = ids ?? (await deps.store.listTasks({ status, limit, offset: 0 })).items.map((t) => t.id);
  const tasks: Task[] = [];
  for (const id of candidates) {
    const after = await deps.store.transitionTask(id, {
      op: 'redrive',
      only: [status],
      patch: REDRIVE_PATCH,
      nodeId: deps.nodeId,
      detail: { reason: 'redriven' },
    });
    if (after === undefined) continue;
    tasks.push(after);
    deps.events.publish('tasks', 'task.requeued', after);
  }
  state.since.redriven += tasks.length;
  deps.engine.wake();
  return { tasks, redriven: tasks.length };
}

async function manualAssign(
  deps: ModuleDeps,
  peers: TaskPeers,
  state: State,
  taskId: string,
  agentId: string,
  ctx: Ctx,
): Promise<Task> {
  const task = await getTask(deps, taskId);
  if (task.status !== 'pending') {
    throw new HubError('INVALID_STATE', `task ${taskId} is ${task.status}; only pending tasks can be assigned`, {
      details: { task_id: taskId, status: task.status },
    });
  }
  if (peers.agents === undefined) throw new HubError('MODULE_UNAVAILABLE', 'agent_management is not available');
  await ctx.ask(peers.agents, (replyTo: ReplyTo<AgentSlot>): AgentManagementMsg => ({
    type: 'agent.check_assignable',
    id: agentId,
    required: task.required_capabilities,
    replyTo,
  }));
  const [claimed] = await deps.store.claimTasks({
    nodeId: deps.nodeId,
    limit: 1,
    leaseMs: deps.config.tasks.lease_ms,
    ids: [taskId],
  });
  if (claimed === undefined)
    throw new HubError('INVALID_STATE', `task ${taskId} was taken meanwhile`, { details: { task_id: taskId } });
  if (!deps.engine.assign(agentId, claimed)) {
    await deps.store.releaseTasks(
      [{ id: claimed.id, epoch: claimed.lease_epoch }],
      deps.nodeId,
      'manual assignment: the agent left',
    );
    throw new HubError('AGENT_NOT_FOUND', `agent ${agentId} left meanwhile`, { details: { agent_id: agentId } });
  }
  state.since.manual_assignments++;
  return { ...claimed, assigned_agent: agentId };
}

/**
 * How old a summary's counts may be. Counting by status reads an index entry
 * per task: a cheap count (under 50 ms) is read again for every summary, exact;
 * on a table of millions a count takes seconds, and one is shared by the
 * summaries (/metrics, scrapes, the dashboard, the trend) for 20 times as long
 * as it took, at least 2 s, which keeps counting under 5 % of a core whatever
 * the table's size.
 */
function countsMaxAgeMs(tookMs: number): number {
  return tookMs < 50 ? 0 : Math.max(2000, 20 * tookMs);
}

async function summarize(deps: ModuleDeps, state: State): Promise<TaskSummary> {
  const now = Date.now();
  if (state.counts === undefined || now - state.counts.at >= countsMaxAgeMs(state.counts.tookMs)) {
    const value = await deps.store.countTasksByStatus();
    state.counts = { at: now, tookMs: Date.now() - now, value };
    state.pending = { at: now, value: value.pending };
  }
  const c = state.counts.value;
  const ended = c.completed + c.failed + c.dead;
  return {
    by_status: { ...c },
    queue_depth: c.pending,
    max_pending: deps.config.tasks.max_pending,
    totals: {
      submitted: Object.values(c).reduce((a, b) => a + b, 0),
      completed: c.completed,
      failed: c.failed,
      dead: c.dead,
      cancelled: c.cancelled,
    },
    since_start: { ...state.since },
    tasks_per_second: round2(state.finishes.rate()),
    average_task_ms: round2(state.durations.mean()),
    p50_task_ms: round2(state.durations.percentile(50)),
    p99_task_ms: round2(state.durations.percentile(99)),
    success_rate: ended === 0 ? 1 : round2(c.completed / ended),
    runner: deps.engine.stats(),
  };
}

/** The queue for scaling and /health: reads bounded by max_pending and by the tasks in flight. */
async function queueFigures(deps: ModuleDeps): Promise<QueueFigures> {
  const max = deps.config.tasks.max_pending;
  const [pending, inFlight] = await Promise.all([deps.store.countPending(max + 1), deps.store.countInFlight()]);
  return { pending, in_flight: inFlight, max_pending: max };
}

/** Flow and workflow operations (flow.ts, workflow.ts). */
function serveSide(deps: ModuleDeps, msg: FlowMsg | WorkflowMsg | ViewMsg): Promise<void> {
  if (isViewMsg(msg)) return serveView(deps, msg);
  return isFlowMsg(msg) ? serveFlow(deps, msg) : serveWorkflow(deps, msg);
}

/** The task_management module actor. */
// size: one case per message type.
export function taskManagementSpec(deps: ModuleDeps, peers: TaskPeers): ActorSpec<TaskManagementMsg, State> {
  return {
    name: 'task_management',
    init: () => freshState(),
    // Submissions accepted and not stored yet go to the next incarnation (a commit in flight finishes by itself).
    handOver: (state, ctx) => {
      for (const s of state.submits.items.splice(0)) {
        try {
          ctx.tell(ctx.self, { type: 'task.submit', task: s.task, replyTo: s.replyTo });
        } catch (err) {
          s.replyTo.fail(err);
        }
      }
    },
    // size: one case per message type.
    receive: async (state, msg, ctx) => {
      if (isFlowMsg(msg) || isWorkflowMsg(msg) || isViewMsg(msg)) return serveSide(deps, msg).then(() => state);
      switch (msg.type) {
        case 'task.submit':
          // Stored by the next group commit, together with every submission queued before it.
          state.submits.items.push({ task: msg.task, replyTo: msg.replyTo });
          startFlush(deps, peers, state, ctx);
          return state;
        case 'task.flushed':
          applyTally(state, msg.tally);
          state.submits.flushing = false;
          startFlush(deps, peers, state, ctx);
          return state;
        case 'task.pending':
          state.pendingRefreshing = false;
          if (msg.pending !== undefined) state.pending = { at: msg.at, value: msg.pending };
          return state;
        case 'task.submit_bulk':
          await answer(msg.replyTo, () => submitMany(deps, peers, ctx, state, msg.tasks));
          return state;
        case 'task.get':
          await answer(msg.replyTo, () => detail(deps, msg.id));
          return state;
        case 'task.explain':
          await answer(msg.replyTo, () => explain(deps, msg.id));
          return state;
        case 'task.list_waiting':
          await answer(msg.replyTo, () => listWaiting(deps, msg.filter));
          return state;
        case 'task.list':
          await answer(msg.replyTo, () => deps.store.listTasks(msg.filter));
          return state;
        case 'task.cancel':
          await answer(msg.replyTo, () => cancel(deps, state, msg.id, msg.reason));
          return state;
        case 'task.retry':
          await answer(msg.replyTo, () => retry(deps, state, msg.id));
          return state;
        case 'task.redrive':
          await answer(msg.replyTo, () => redrive(deps, state, msg.status, msg.ids, msg.limit));
          return state;
        case 'task.assign':
          await answer(msg.replyTo, () => manualAssign(deps, peers, state, msg.taskId, msg.agentId, ctx));
          return state;
        case 'task.summarize':
          await answer(msg.replyTo, () => summarize(deps, state));
          return state;
        case 'task.queue':
          await answer(msg.replyTo, () => queueFigures(deps));
          return state;
        case 'task.ended':
          state.finishes.record(msg.completed + msg.failed);
          for (const d of msg.durationsMs) state.durations.record(d);
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
