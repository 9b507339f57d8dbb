/**
 * task_management's submissions: the room check against [tasks] max_pending,
 * capability inference, the group commit of single submissions (with direct
 * hand-off to idle agents), submissions with dependencies one by one, and bulk
 * submissions as one transaction. Every path counts and publishes a stored
 * submission the same way (accepted()).
 */
import type { InferredCapability, NewTask } from '../../src/domain/index.js';
import { handOffable } from '../../src/engine/handoff.js';
import { HubError, errorMessage } from '../../src/errors/index.js';
import { writeIsolating } from '../../src/storage/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import type { NeuralMsg } from '../neural-processor/messages.js';
import type { ModuleDeps } from '../shared/deps.js';
import type { SubmitTally, Submitted, TaskManagementMsg } from './messages.js';
import type { Ctx, PendingSubmit, State, TaskPeers } from './state.js';

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

/** The pending estimate is read again in the background when older than this. */
const PENDING_REFRESH_MS = 500;

/**
 * Starts a background count of the pending tasks when the estimate is stale (the
 * read reports back with 'task.pending'), so that submissions never wait on a
 * count. Called in receive.
 */
function refreshPending(deps: ModuleDeps, state: State, ctx: Ctx): void {
  if (state.pending === undefined || Date.now() - state.pending.at <= PENDING_REFRESH_MS || state.pendingRefreshing)
    return;
  state.pendingRefreshing = true;
  void deps.store.countPending(deps.config.tasks.max_pending + 1).then(
    (value) => tellSelf(ctx, { type: 'task.pending', pending: value, at: Date.now() }),
    () => tellSelf(ctx, { type: 'task.pending', pending: undefined, at: Date.now() }),
  );
}

function tellSelf(ctx: Ctx, msg: TaskManagementMsg): void {
  try {
    ctx.tell(ctx.self, msg);
  } catch {
    // stopped or full: the next submission (or the next init) starts again
  }
}

/** A new tally for a commit, from the actor's pending estimate. */
function tallyFrom(state: State): SubmitTally {
  return { pending: state.pending?.value, created: 0, deduplicated: 0 };
}

/** Applies a commit's tally to the state (in receive): counters, and the cached pending count. */
export function applyTally(state: State, t: SubmitTally): void {
  state.since.submitted += t.created;
  state.since.deduplicated += t.deduplicated;
  if (t.read === true && t.pending !== undefined) state.pending = { at: Date.now(), value: t.pending + t.created };
  else if (state.pending !== undefined) state.pending.value += t.created;
}

/**
 * Refuses a submission of n tasks that would pass [tasks] max_pending (this
 * commit's own tasks counted). The estimate only decides acceptance: a refusal
 * is always decided on a fresh count (tasks claimed since the estimate free room).
 */
async function checkRoom(deps: ModuleDeps, t: SubmitTally, n: number): Promise<void> {
  const max = deps.config.tasks.max_pending;
  if (t.pending === undefined || (t.read !== true && t.pending + t.created + n > max)) {
    // The count includes this commit's tasks stored so far: they are counted once, in t.created.
    t.pending = Math.max(0, (await deps.store.countPending(max + 1)) - t.created);
    t.read = true;
  }
  const pending = t.pending + t.created;
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
function accepted(deps: ModuleDeps, t: SubmitTally, result: Submitted): Submitted {
  if (result.created) {
    t.created++;
    deps.events.publish('tasks', 'task.created', result.task);
  } else {
    t.deduplicated++;
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
export function startFlush(deps: ModuleDeps, peers: TaskPeers, state: State, ctx: Ctx): void {
  const queue = state.submits;
  if (queue.items.length === 0 || queue.flushing) return;
  queue.flushing = true; // until 'task.flushed' is handled: its tally is counted before the next commit checks room
  refreshPending(deps, state, ctx);
  const batch = queue.items.splice(0);
  const tally = tallyFrom(state);
  const done = (): void => tellSelf(ctx, { type: 'task.flushed', tally });
  void storeSubmits(deps, peers, ctx, tally, batch).then(done, (err: unknown) => {
    for (const b of batch) b.replyTo.fail(err);
    done();
  });
}

async function storeSubmits(
  deps: ModuleDeps,
  peers: TaskPeers,
  ctx: Ctx,
  tally: SubmitTally,
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
    tally,
    batch.filter((x) => x.task.depends_on.length > 0),
  );
  const plain = await storePlain(
    deps,
    tally,
    batch.filter((b) => b.task.depends_on.length === 0),
  );
  // Tasks stored pending (no idle agent took them; dependencies that may be done already) are for the next claim.
  if ([...withDeps, ...plain].some((r) => r.created && r.task.status === 'pending')) deps.engine.wake();
}

/**
 * Submissions with dependencies, one by one (a bad reference fails only its own), under
 * the same rules as the others: room under max_pending, a task.created event.
 */
async function storeWithDependencies(
  deps: ModuleDeps,
  tally: SubmitTally,
  batch: PendingSubmit[],
): Promise<Submitted[]> {
  const out: Submitted[] = [];
  for (const b of batch) {
    try {
      await checkRoom(deps, tally, 1);
      const [r] = await deps.store.createTasks([b.task], deps.nodeId);
      if (r === undefined) throw new HubError('INTERNAL', 'the store answered no task for a submission');
      out.push(accepted(deps, tally, r));
      b.replyTo.ok(r);
    } catch (err) {
      b.replyTo.fail(err);
    }
  }
  return out;
}

/** Submissions without dependencies: one group commit, split only around a refused one; direct hand-off to idle agents. */
async function storePlain(deps: ModuleDeps, tally: SubmitTally, plain: PendingSubmit[]): Promise<Submitted[]> {
  if (plain.length === 0) return [];
  try {
    await checkRoom(deps, tally, plain.length);
  } catch (err) {
    for (const b of plain) b.replyTo.fail(err);
    return [];
  }
  const now = Date.now();
  const handoff = deps.engine.handoff;
  const entries = plain.map((b) => ({
    b,
    // Tasks with a key or a cost wait for a claim, where their limits are checked.
    agentId: handOffable(b.task, now) ? handoff.reserve(b.task.required_capabilities) : undefined,
  }));
  const unreserve = (agentId: string | undefined): void => void (agentId !== undefined && handoff.unreserve(agentId));
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
      accepted(deps, tally, r);
      if (e.agentId !== undefined) {
        if (r.created && r.task.status === 'assigned') handoff.handOff(e.agentId, r.task);
        else handoff.unreserve(e.agentId);
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

/** A bulk submission is one transaction: every task is stored, or none. Runs in receive (awaited). */
export async function submitMany(
  deps: ModuleDeps,
  peers: TaskPeers,
  ctx: Ctx,
  state: State,
  tasks: NewTask[],
): Promise<Submitted[]> {
  refreshPending(deps, state, ctx);
  const tally = tallyFrom(state);
  await checkRoom(deps, tally, tasks.length);
  await inferCapabilities(deps, peers, ctx, tasks);
  // Bulk hand-off: as many as this node has room for are stored claimed here and start without a claim.
  const handoff = deps.engine.handoff;
  const take = handoff.reserveBulk(tasks);
  const reserved = take.filter(Boolean).length;
  let stored: Submitted[];
  try {
    const lease = { leaseMs: deps.config.tasks.lease_ms };
    stored = await deps.store.createTasks(
      tasks,
      deps.nodeId,
      reserved === 0 ? undefined : take.map((t) => (t ? lease : undefined)),
    );
  } catch (err) {
    handoff.unreserveBulk(reserved);
    throw err;
  }
  const r = stored.map((x) => accepted(deps, tally, x));
  applyTally(state, tally);
  const claimed = stored.filter((x, i) => take[i] === true && x.created && x.task.status === 'assigned');
  // The engine's own copies: placing sets assigned_agent, which the submitter's answer must not show.
  void handoff
    .adoptBulk(
      claimed.map((x) => ({ ...x.task })),
      reserved,
    )
    .catch((err: unknown) =>
      // Placing failed (releasing an unplaceable task): their leases run out and they are claimed again.
      deps.log.warn({ err }, `placing ${claimed.length} handed-off tasks failed: ${errorMessage(err)}`),
    );
  if (reserved < tasks.length) deps.engine.wake();
  return r;
}
