/**
 * task_management: accepts, tracks, cancels, retries and assigns tasks; the
 * node's task engine (src/engine) claims and runs them.
 * State: counters and windows since start; every task change is stored before
 * the reply, so a restart or reset never loses a task. Accepts TaskManagementMsg.
 */
import {
  REDRIVE_PATCH,
  isTerminal,
  taskHistory,
  type InferredCapability,
  type NewTask,
  type Task,
  type TaskStatus,
} from '../../src/domain/index.js';
import { HubError, assertNever } from '../../src/errors/index.js';
import { writeIsolating } from '../../src/storage/index.js';
import { RateWindow, SampleWindow, round2 } from '../../src/metrics/windows.js';
import type { ActorContext, ActorRef, ActorSpec, ReplyTo } from '../../src/runtime/index.js';
import type { AgentManagementMsg, AgentSlot } from '../agent-management/messages.js';
import type { ModuleDeps } from '../shared/deps.js';
import { answer } from '../shared/answer.js';
import type { Redriven, Submitted, TaskDetail, TaskManagementMsg, TaskSummary } from './messages.js';
import type { NeuralMsg } from '../neural-processor/messages.js';

export interface TaskPeers {
  agents?: ActorRef<AgentManagementMsg>;
  neural?: ActorRef<NeuralMsg>;
}

/** Deadline for inferring capabilities: past it, tasks are stored without (submission never waits on the model for long). */
const INFER_TIMEOUT_MS = 2000;

/**
 * Tasks submitted without required capabilities get the capabilities the neural
 * processor infers from their title and description, recorded as inferred (a
 * preference when matching, not a requirement). When the processor is off or
 * fails, tasks are stored as they came: inference never fails a submission.
 */
async function inferCapabilities(
  deps: ModuleDeps,
  peers: TaskPeers,
  ctx: Ctx,
  tasks: readonly NewTask[],
): Promise<void> {
  if (!deps.config.neural.enabled || !deps.config.neural.infer_capabilities || peers.neural === undefined) return;
  const open = tasks.filter(
    (t) =>
      t.required_capabilities.length === 0 &&
      t.inferred_capabilities == null &&
      `${t.title} ${t.description}`.trim() !== '',
  );
  if (open.length === 0) return;
  try {
    const inferred = await ctx.ask(
      peers.neural,
      (replyTo: ReplyTo<InferredCapability[][]>): NeuralMsg => ({
        type: 'neural.infer',
        texts: open.map((t) => `${t.title}. ${t.description}`),
        replyTo,
      }),
      INFER_TIMEOUT_MS,
    );
    open.forEach((t, i) => {
      const caps = inferred[i];
      if (caps !== undefined) t.inferred_capabilities = caps;
    });
  } catch (err) {
    deps.log.warn(
      { err, count: open.length },
      `capabilities of ${open.length} tasks not inferred: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

type Ctx = ActorContext<TaskManagementMsg>;

interface PendingSubmit {
  task: NewTask;
  replyTo: ReplyTo<Submitted>;
}

/**
 * Submissions waiting for the next group commit. It belongs to the module, not to
 * an incarnation: a restart of task_management neither drops waiting submissions
 * nor starts a second commit beside one in flight.
 */
interface SubmitQueue {
  items: PendingSubmit[];
  flushing: boolean;
}

interface State {
  /** Submissions accepted and not stored yet (group commit); a restart hands them to the next incarnation. */
  submits: SubmitQueue;
  countsRefreshing: boolean;
  counts: { at: number; value: Record<TaskStatus, number> } | undefined;
  since: TaskSummary['since_start'];
  finishes: RateWindow;
  durations: SampleWindow;
}

function freshState(): State {
  return {
    submits: { items: [], flushing: false },
    countsRefreshing: false,
    counts: undefined,
    since: { submitted: 0, deduplicated: 0, cancelled: 0, retried: 0, redriven: 0, manual_assignments: 0 },
    finishes: new RateWindow(60),
    durations: new SampleWindow(1024),
  };
}

/**
 * Task counts by status from storage (the truth), cached: a stale cache is
 * refreshed in the background, so that submissions never wait on a count.
 */
async function counts(deps: ModuleDeps, state: State): Promise<Record<TaskStatus, number>> {
  if (state.counts === undefined) state.counts = { at: Date.now(), value: await deps.store.countTasksByStatus() };
  else if (Date.now() - state.counts.at > 500 && !state.countsRefreshing) {
    state.countsRefreshing = true;
    void deps.store
      .countTasksByStatus()
      .then((value) => (state.counts = { at: Date.now(), value }))
      .catch(() => undefined)
      .finally(() => (state.countsRefreshing = false));
  }
  return state.counts.value;
}

/** Refuses a submission of n tasks that would pass [tasks] max_pending. */
async function checkRoom(deps: ModuleDeps, state: State, n: number): Promise<void> {
  const pending = (await counts(deps, state)).pending;
  const max = deps.config.tasks.max_pending;
  if (pending + n > max) {
    throw new HubError(
      'QUEUE_FULL',
      `${pending} tasks are pending ([tasks] max_pending = ${max}); ${n === 1 ? 'this task does' : `these ${n} tasks do`} not fit; retry later`,
      {
        details: { pending, max_pending: max, submitted: n },
      },
    );
  }
}

/**
 * The one rule for a stored submission, on every path: count it (before its
 * submitter hears back, so that the next submission's room check sees it) and
 * publish task.created when it is new.
 */
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

/**
 * Group commit of submissions: the first submission starts storing at once; the
 * ones that arrive while it is being stored are stored together next. Storing
 * runs beside the actor (the actor keeps taking submissions) and reports back
 * with 'task.flushed'. A task with an idle capable agent here is stored already
 * claimed and handed over at once (direct hand-off). Submissions with
 * dependencies are stored one by one, so that a bad reference fails only its own.
 */
function startFlush(deps: ModuleDeps, peers: TaskPeers, state: State, ctx: Ctx): void {
  const queue = state.submits;
  if (queue.items.length === 0 || queue.flushing) return;
  queue.flushing = true;
  const batch = queue.items.splice(0);
  const done = (): void => {
    queue.flushing = false;
    try {
      ctx.tell(ctx.self, { type: 'task.flushed' });
    } catch {
      // stopped or full: the next submission (or the next init) starts the next commit
    }
  };
  void storeSubmits(deps, peers, ctx, state, batch).then(done, (err: unknown) => {
    for (const b of batch) b.replyTo.fail(err);
    done();
  });
}

async function storeSubmits(
  deps: ModuleDeps,
  peers: TaskPeers,
  ctx: Ctx,
  state: State,
  batch: PendingSubmit[],
): Promise<void> {
  await inferCapabilities(
    deps,
    peers,
    ctx,
    batch.map((b) => b.task),
  );
  const withDeps = await storeWithDependencies(
    deps,
    state,
    batch.filter((x) => x.task.depends_on.length > 0),
  );
  const plain = await storePlain(
    deps,
    state,
    batch.filter((b) => b.task.depends_on.length === 0),
  );
  // Tasks stored pending (no idle agent took them; dependencies that may be done already) are for the next claim.
  if ([...withDeps, ...plain].some((r) => r.created && r.task.status === 'pending')) deps.engine.wake();
}

/**
 * Submissions with dependencies, one by one (a bad reference fails only its own), under
 * the same rules as the others: room under max_pending, a task.created event.
 */
async function storeWithDependencies(deps: ModuleDeps, state: State, batch: PendingSubmit[]): Promise<Submitted[]> {
  const out: Submitted[] = [];
  for (const b of batch) {
    try {
      await checkRoom(deps, state, 1);
      const [r] = await deps.store.createTasks([b.task], deps.nodeId);
      if (r === undefined) throw new HubError('INTERNAL', 'the store answered no task for a submission');
      out.push(accepted(deps, state, r));
      b.replyTo.ok(r);
    } catch (err) {
      b.replyTo.fail(err);
    }
  }
  return out;
}

/** Submissions without dependencies: one group commit, split only around a refused one; direct hand-off to idle agents. */
async function storePlain(deps: ModuleDeps, state: State, plain: PendingSubmit[]): Promise<Submitted[]> {
  if (plain.length === 0) return [];
  try {
    await checkRoom(deps, state, plain.length);
  } catch (err) {
    for (const b of plain) b.replyTo.fail(err);
    return [];
  }
  const now = Date.now();
  const entries = plain.map((b) => ({
    b,
    agentId:
      b.task.run_at === null || Date.parse(b.task.run_at) <= now
        ? deps.engine.reserve(b.task.required_capabilities)
        : undefined,
  }));
  const unreserve = (agentId: string | undefined): void =>
    void (agentId !== undefined && deps.engine.unreserve(agentId));
  const claims = (part: typeof entries): Array<{ leaseMs: number } | undefined> =>
    part.map((e) => (e.agentId === undefined ? undefined : { leaseMs: deps.config.tasks.lease_ms }));
  // One bad submission fails alone: the group commit is split until it stands alone.
  const written = await writeIsolating(
    entries,
    (part) =>
      deps.store.createTasks(
        part.map((e) => e.b.task),
        deps.nodeId,
        claims(part),
      ),
    (e, err) => {
      unreserve(e.agentId);
      e.b.replyTo.fail(refusedAlone(err));
    },
  );
  for (const e of written.unwritten?.items ?? []) {
    unreserve(e.agentId);
    e.b.replyTo.fail(written.unwritten!.err);
  }
  const stored: Submitted[] = [];
  for (const part of written.parts) {
    part.result.forEach((r, i) => {
      const e = part.items[i]!;
      accepted(deps, state, r);
      if (e.agentId !== undefined) {
        if (r.created && r.task.status === 'assigned') deps.engine.handOff(e.agentId, r.task);
        else deps.engine.unreserve(e.agentId);
      }
      e.b.replyTo.ok(r);
      stored.push(r);
    });
  }
  return stored;
}

/** A database refusal of one submission on its own: the client's value (400), not the hub's fault. */
function refusedAlone(err: HubError): HubError {
  if (err.code !== 'DATABASE_ERROR') return err;
  return new HubError(
    'VALIDATION_FAILED',
    `(body): the database refused this task: ${err.message.replace(/^database error: /, '')}`,
    { details: { field: '(body)' }, cause: err },
  );
}

/** A bulk submission is one transaction: every task is stored, or none. */
async function submitMany(
  deps: ModuleDeps,
  peers: TaskPeers,
  ctx: Ctx,
  state: State,
  tasks: NewTask[],
): Promise<Submitted[]> {
  await checkRoom(deps, state, tasks.length);
  await inferCapabilities(deps, peers, ctx, tasks);
  const r = (await deps.store.createTasks(tasks, deps.nodeId)).map((x) => accepted(deps, state, x));
  deps.engine.wake();
  return r;
}

async function getTask(deps: ModuleDeps, id: string): Promise<Task> {
  const task = await deps.store.getTask(id);
  if (task === undefined) throw new HubError('TASK_NOT_FOUND', `no task with id ${id}`, { details: { task_id: id } });
  return task;
}

async function detail(deps: ModuleDeps, id: string): Promise<TaskDetail> {
  const task = await getTask(deps, id);
  const [recorded, dependsOn] = await Promise.all([deps.store.listTaskEvents(id), deps.store.listDependencies(id)]);
  return { ...task, depends_on: dependsOn, events: taskHistory(task, recorded) as TaskDetail['events'] };
}

async function cancel(deps: ModuleDeps, state: State, id: string, reason: string): Promise<Task> {
  const before = await getTask(deps, id);
  const refuse = (status: TaskStatus): HubError =>
    new HubError('INVALID_STATE', `task ${id} is ${status}; only tasks that have not ended can be cancelled`, {
      details: { task_id: id, status },
    });
  if (isTerminal(before.status)) throw refuse(before.status);
  const after = await deps.store.transitionTask(id, {
    op: 'cancel',
    nodeId: deps.nodeId,
    detail: { reason },
    patch: { completed_at: new Date().toISOString(), lease_owner: null, lease_expires_at: null },
  });
  if (after === undefined) throw refuse((await getTask(deps, id)).status); // it ended meanwhile
  // A running handler is told through its signal; its late result is refused by the fenced finish.
  deps.engine.abort(id, reason);
  state.since.cancelled++;
  deps.log.info({ event: 'task.cancelled', task_id: id, reason }, 'task cancelled');
  deps.events.publish('tasks', 'task.cancelled', after);
  for (const t of await deps.store.cancelDependants([id], `a task it depends on was cancelled (${id})`, deps.nodeId))
    deps.events.publish('tasks', 'task.cancelled', t);
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

async function summarize(deps: ModuleDeps, state: State): Promise<TaskSummary> {
  const c = await counts(deps, state);
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
    p99_task_ms: round2(state.durations.percentile(99)),
    success_rate: ended === 0 ? 1 : round2(c.completed / ended),
    runner: deps.engine.stats(),
  };
}

/** The task_management module actor. */
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
    receive: async (state, msg, ctx) => {
      switch (msg.type) {
        case 'task.submit':
          // Stored by the next group commit, together with every submission queued before it.
          state.submits.items.push({ task: msg.task, replyTo: msg.replyTo });
          startFlush(deps, peers, state, ctx);
          return state;
        case 'task.flushed':
          // The stored submissions were counted as they were stored (accepted()).
          startFlush(deps, peers, state, ctx);
          return state;
        case 'task.submit_bulk':
          await answer(msg.replyTo, () => submitMany(deps, peers, ctx, state, msg.tasks));
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
          await answer(msg.replyTo, () => retry(deps, state, msg.id));
          return state;
        case 'task.redrive':
          await answer(msg.replyTo, () => redrive(deps, state, msg.status, msg.ids, msg.limit));
          return state;
        case 'task.assign':
          await answer(msg.replyTo, () => manualAssign(deps, peers, state, msg.taskId, msg.agentId, ctx));
          return state;
        case 'task.summarize':
          state.counts = undefined; // a summary reads fresh counts
          await answer(msg.replyTo, () => summarize(deps, state));
          return state;
        case 'task.ended':
          state.finishes.record(msg.completed + msg.failed);
          for (const d of msg.durationsMs) state.durations.record(d);
          state.counts = undefined;
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
