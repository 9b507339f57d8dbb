import {
  newTaskId,
  PRIORITY_RANK,
  OPERATIONS,
  TASK_STATUSES,
  TERMINAL_STATUSES,
  initialStatus,
  isTerminal,
  type NewTask,
  type Task,
  type TaskStatus,
} from '../../domain/index.js';
import type {
  FinishOutcome,
  Page,
  Store,
  TaskEvent,
  TaskFilter,
  ErrorGroup,
  TaskFinish,
  TaskStart,
  TaskTransition,
} from '../store.js';
import type { Executor } from './executor.js';
import { flowParams, isoOrNull, rowToEvent, rowToTask, toJson } from './rows.js';
import { REQUEUE_SET, finishGuard, inFrom, setStatus } from './lifecycle-sql.js';
import { SqlClaims } from './sql-claims.js';
import type { Ended } from './sql-flow-store.js';

import { Where, isUuid } from './sql-base.js';
import { taskOrder, taskWhere } from './sql-task-list.js';

export { Where, isUuid };

/** The Store over SQL, shared by both engines: the base (administration), the registry (agents, membership), the dependencies and, here, the tasks. */
export class SqlStore extends SqlClaims implements Store {
  async createTasks(
    tasks: readonly NewTask[],
    nodeId: string,
    claims?: ReadonlyArray<{ leaseMs: number } | undefined>,
  ): Promise<Array<{ task: Task; created: boolean }>> {
    return this.db.transaction(async (tx) => {
      const out: Array<{ task: Task; created: boolean }> = [];
      for (const [i, t] of tasks.entries()) out.push(await this.insertTask(tx, t, nodeId, claims?.[i]));
      return out;
    });
  }

  protected async insertTask(
    tx: Executor,
    t: NewTask,
    nodeId: string,
    claim?: { leaseMs: number },
  ): Promise<{ task: Task; created: boolean }> {
    const now = new Date().toISOString();
    const depsPending = await this.checkDependencies(tx, t.depends_on);
    await this.checkParent(tx, t.parent_id ?? null);
    const waits = (t.wait ?? null) !== null;
    const claimed = claim !== undefined && depsPending === 0 && !waits;
    const rows = await tx.all(
      `INSERT INTO tasks (id, title, description, type, priority, priority_rank, status, required_capabilities, payload,
         attempts, max_attempts, timeout_ms, run_at, lease_epoch, idempotency_key, deps_pending, created_at, updated_at,
         lease_owner, lease_expires_at, claimed_at, inferred_capabilities, concurrency_keys, fairness_key, cost, flowed,
         parent_id, wait_for, wake_at, schedule_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ${this.dialect.idempotencyConflict} DO NOTHING RETURNING *`,
      insertParams(t, { claimed, waits, depsPending, now, nodeId, leaseMs: claim?.leaseMs ?? 0 }),
    );
    const inserted = rows[0];
    if (inserted === undefined) {
      const existing = await tx.all('SELECT * FROM tasks WHERE idempotency_key = ?', [t.idempotency_key]);
      return { task: rowToTask(this.dialect, existing[0] ?? {}), created: false };
    }
    const task = rowToTask(this.dialect, inserted);
    for (const dep of t.depends_on)
      await tx.run('INSERT INTO task_dependencies (task_id, depends_on) VALUES (?, ?)', [task.id, dep]);
    if (t.depends_on.length > 0) {
      await tx.run(`UPDATE tasks SET has_dependants = ? WHERE id IN (${t.depends_on.map(() => '?').join(', ')})`, [
        this.dialect.bool(true),
        ...t.depends_on,
      ]);
    }
    void nodeId; // the submission itself is synthesised from created_at in the history (no event row on the hot path)
    return { task, created: true };
  }

  /**
   * Dependencies must exist and must not have ended without completing. Their rows
   * are locked, so a completion cannot slip between this count and the insert.
   * Returns how many have not completed yet.
   */
  async getTask(id: string): Promise<Task | undefined> {
    if (!isUuid(id)) return undefined;
    const rows = await this.db.all('SELECT * FROM tasks WHERE id = ?', [id]);
    return rows[0] === undefined ? undefined : rowToTask(this.dialect, rows[0]);
  }

  async listTasks(f: TaskFilter): Promise<Page<Task>> {
    return this.page('tasks', taskWhere(this.dialect, f), taskOrder(this.dialect, f), f, (r) =>
      rowToTask(this.dialect, r),
    );
  }

  async groupErrors(statuses: ReadonlyArray<'dead' | 'failed'>, limit: number): Promise<ErrorGroup[]> {
    const code = this.dialect.jsonText('error', 'code');
    const rows = await this.db.all(
      `SELECT status, COALESCE(${code}, 'UNKNOWN') AS code, count(*) AS n, max(updated_at) AS latest_at,
              max(${this.dialect.jsonText('error', 'message')}) AS message
       FROM tasks WHERE status IN (${statuses.map(() => '?').join(', ')}) GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT ?`,
      [...statuses, limit],
    );
    return rows.map((r) => ({
      status: r['status'] === 'failed' ? 'failed' : 'dead',
      code: String(r['code']),
      count: Number(r['n']),
      latest_at: isoOrNull(r['latest_at']) ?? '',
      message: typeof r['message'] === 'string' ? r['message'] : '',
    }));
  }

  async transitionTask(id: string, tr: TaskTransition): Promise<Task | undefined> {
    const op = OPERATIONS[tr.op];
    const from: readonly TaskStatus[] = op.from;
    const allowed = (tr.only ?? from).filter((st) => from.includes(st));
    if (!isUuid(id) || allowed.length === 0) return undefined;
    return this.db.transaction(async (tx) => {
      const before = await tx.all(`SELECT status, attempts FROM tasks WHERE id = ?${this.dialect.rowLock}`, [id]);
      const from = before[0]?.['status'] as TaskStatus | undefined;
      if (from === undefined || !allowed.includes(from)) return undefined;
      if (tr.attempt !== undefined && Number(before[0]?.['attempts']) !== tr.attempt) return undefined;
      // The operation's status, written as a parameter: the operation (checked against TRANSITIONS) says which.
      const sets = ['status = ?', 'updated_at = ?'];
      const params: unknown[] = [op.to, new Date().toISOString()];
      for (const [key, value] of Object.entries(tr.patch ?? {})) {
        sets.push(`${key} = ?`);
        params.push(key === 'result' || key === 'error' ? toJson(value) : value);
      }
      const rows = await tx.all(`UPDATE tasks SET ${sets.join(', ')} WHERE id = ? RETURNING *`, [...params, id]);
      const task = rowToTask(this.dialect, rows[0] ?? {});
      await this.insertEvent(tx, id, from, op.to, task.assigned_agent, tr.nodeId, tr.detail ?? null);
      // A child that ended outside an attempt (a cancel): its waiting parent looks at its children again.
      if (isTerminal(task.status) && task.parent_id !== null)
        tr.onChanged?.(await this.childrenEnded(tx, [task.parent_id], tr.nodeId));
      return task;
    });
  }

  async startTasks(items: readonly TaskStart[]): Promise<string[]> {
    if (items.length === 0) return [];
    return this.db.transaction(async (tx) => {
      const applied: string[] = [];
      for (const it of items) {
        const n = await tx.run(
          `UPDATE tasks SET ${setStatus('start')}, assigned_agent = ?, started_at = ?, updated_at = ? WHERE id = ? AND lease_epoch = ? AND ${inFrom('start')}`,
          [it.agentId, it.startedAt, it.startedAt, it.id, it.epoch],
        );
        if (n > 0) applied.push(it.id);
      }
      return applied;
    });
  }

  async finishTasks(all: readonly TaskFinish[], nodeId: string): Promise<FinishOutcome> {
    if (all.length === 0) return { applied: [], stale: [], cascaded: [], changed: [] };
    return this.db.transaction(async (tx) => {
      const waits = await this.suspendAll(
        tx,
        all.filter((i) => i.status === 'waiting'),
        nodeId,
      );
      const items = all.filter((i) => i.status !== 'waiting');
      const now = new Date().toISOString();
      const applied: FinishOutcome['applied'] = [...waits.applied];
      const stale: string[] = [...waits.stale];
      const readied: string[] = [];
      const ended: Ended[] = [];
      const children: Array<{ id: string; status: TaskStatus; parent_id: string | null }> = [];
      const settles = await this.anyBucketRule(tx);
      for (const it of items) {
        const rows = await this.finishOne(tx, it, now, settles);
        if (rows[0] === undefined) {
          stale.push(it.id);
          continue;
        }
        ended.push({ row: rows[0], released: false });
        applied.push({ id: it.id, status: it.status });
        children.push({ id: it.id, status: it.status, parent_id: (rows[0]['parent_id'] as string | null) ?? null });
        const hasDependants = rows[0]['has_dependants'] === true || rows[0]['has_dependants'] === 1;
        if (it.status !== 'completed')
          await this.insertEvent(tx, it.id, 'running', it.status, it.agentId, nodeId, it.detail ?? null);
        else if (hasDependants) readied.push(it.id);
      }
      for (const id of readied) {
        await tx.run(
          'UPDATE tasks SET deps_pending = deps_pending - 1 WHERE id IN (SELECT task_id FROM task_dependencies WHERE depends_on = ?)',
          [id],
        );
      }
      await this.settle(tx, ended);
      const failed = applied.filter((a) => a.status === 'failed' || a.status === 'dead').map((a) => a.id);
      const cascaded =
        failed.length === 0
          ? []
          : await this.cancelDependantsIn(tx, failed, 'a task it depends on did not complete', nodeId);
      const changed = [...waits.changed, ...(await this.afterChildEnds(tx, [...children, ...cascaded], nodeId))];
      return { applied, stale, cascaded, changed };
    });
  }

  /** One attempt's end, fenced on its claim epoch; no row when the task moved on. */
  private finishOne(
    tx: Executor,
    it: TaskFinish,
    now: string,
    settles: boolean,
  ): Promise<Array<Record<string, unknown>>> {
    const retry = it.status === 'pending';
    return tx.all(
      `UPDATE tasks SET status = ?, result = ?, error = ?, assigned_agent = ?, started_at = ?, completed_at = ?,
         claimed_at = ${retry ? 'NULL' : 'claimed_at'}, run_at = ${retry ? '?' : 'run_at'}, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?,
         usage = COALESCE(?, usage)
       WHERE id = ? AND lease_epoch = ? AND ${finishGuard()} RETURNING has_dependants, parent_id${settles ? ', concurrency_keys, cost, usage' : ''}`,
      [
        it.status,
        it.status === 'completed' ? (it.resultJson ?? toJson(it.result ?? null)) : toJson(null),
        toJson(it.error ?? null),
        retry ? null : it.agentId,
        retry ? null : it.startedAt,
        it.completedAt,
        ...(retry ? [it.runAt ?? null] : []),
        now,
        toJson(it.usage ?? undefined),
        it.id,
        it.epoch,
      ],
    );
  }

  async releaseTasks(
    items: ReadonlyArray<{ id: string; epoch: number }>,
    nodeId: string,
    reason: string,
    delayMs = 0,
  ): Promise<number> {
    if (items.length === 0) return 0;
    const runAt = delayMs > 0 ? new Date(Date.now() + delayMs).toISOString() : null;
    return this.db.transaction(async (tx) => {
      let n = 0;
      for (const it of items) {
        const rows = await tx.all(
          `UPDATE tasks SET ${setStatus('release')}, attempts = attempts - 1, lease_owner = NULL, lease_expires_at = NULL, claimed_at = NULL, run_at = ?, updated_at = ?
           WHERE id = ? AND lease_epoch = ? AND ${inFrom('release')} RETURNING id, concurrency_keys, cost, usage`,
          [runAt, new Date().toISOString(), it.id, it.epoch],
        );
        if (rows[0] !== undefined) {
          await this.settle(tx, [{ row: rows[0], released: true }]);
          n++;
          await this.insertEvent(tx, it.id, 'assigned', 'pending', null, nodeId, { reason });
        }
      }
      return n;
    });
  }

  async extendLeases(nodeId: string, leaseMs: number): Promise<number> {
    return this.db.run(`UPDATE tasks SET lease_expires_at = ? WHERE lease_owner = ? AND ${inFrom('requeue')}`, [
      new Date(Date.now() + leaseMs).toISOString(),
      nodeId,
    ]);
  }

  async requeueExpired(nodeId: string, limit: number): Promise<Task[]> {
    return this.db.transaction(async (tx) => {
      const now = new Date().toISOString();
      const expired = await tx.all(
        `SELECT id, status, lease_owner FROM tasks WHERE ${inFrom('requeue')} AND lease_expires_at < ? ORDER BY lease_expires_at LIMIT ?${this.dialect.claimLock}`,
        [now, limit],
      );
      const out: Task[] = [];
      for (const e of expired) {
        const rows = await tx.all(
          `UPDATE tasks SET ${REQUEUE_SET}, updated_at = ? WHERE id = ? AND ${inFrom('requeue')} RETURNING *`,
          [now, e['id']],
        );
        if (rows[0] === undefined) continue;
        out.push(rowToTask(this.dialect, rows[0]));
        await this.insertEvent(tx, String(e['id']), e['status'] as TaskStatus, 'pending', null, nodeId, {
          reason: 'lease expired',
          previous_owner: e['lease_owner'],
        });
      }
      return out;
    });
  }

  /** With `tx`, runs inside that transaction (a batch's failures cancel their dependants atomically). */
  listenForTasks(_onTasks: () => void): Promise<() => Promise<void>> {
    return Promise.resolve(() => Promise.resolve());
  }

  async listLeasedTasks(nodeId: string): Promise<Task[]> {
    const rows = await this.db.all(
      `SELECT * FROM tasks WHERE ${inFrom('requeue')} AND lease_owner = ? ORDER BY created_at, id`,
      [nodeId],
    );
    return rows.map((r) => rowToTask(this.dialect, r));
  }

  async listTaskEvents(taskId: string): Promise<TaskEvent[]> {
    if (!isUuid(taskId)) return [];
    const rows = await this.db.all('SELECT * FROM task_events WHERE task_id = ? ORDER BY id', [taskId]);
    return rows.map((r) => rowToEvent(this.dialect, r));
  }

  async countTasksByStatus(): Promise<Record<TaskStatus, number>> {
    const counts = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
    const rows = await this.db.all('SELECT status, count(*) AS n FROM tasks GROUP BY status');
    for (const r of rows) counts[r['status'] as TaskStatus] = Number(r['n']);
    return counts;
  }

  countPending(cap: number): Promise<number> {
    return this.count("SELECT count(*) AS n FROM (SELECT 1 FROM tasks WHERE status = 'pending' LIMIT ?) p", [cap]);
  }

  countInFlight(): Promise<number> {
    return this.count("SELECT count(*) AS n FROM tasks WHERE status IN ('assigned', 'running')");
  }

  async pruneTasks(before: string, limit: number): Promise<number> {
    // Ended before the cutoff (created_at <= updated_at bounds the index scan), and no dependant or child still open.
    const ended = TERMINAL_STATUSES.map((s) => `'${s}'`).join(', ');
    return this.db.run(
      `DELETE FROM tasks WHERE id IN (SELECT t.id FROM tasks t WHERE t.status IN (${ended}) AND t.created_at < ? AND t.updated_at < ?
         AND NOT EXISTS (SELECT 1 FROM task_dependencies d JOIN tasks o ON o.id = d.task_id WHERE d.depends_on = t.id AND o.status NOT IN (${ended}))
         AND NOT EXISTS (SELECT 1 FROM tasks c WHERE c.parent_id = t.id AND c.status NOT IN (${ended}))
         LIMIT ?)`,
      [before, before, limit],
    );
  }

  countReadyAhead(taskId: string, now: Date): Promise<number> {
    return this.countAhead(taskId, '(o.run_at IS NULL OR o.run_at <= ?)', [now.toISOString()]);
  }
}

/** A new task's row as INSERT parameters, in the column order of insertTask. */
function insertParams(
  t: NewTask,
  c: { claimed: boolean; waits: boolean; depsPending: number; now: string; nodeId: string; leaseMs: number },
): unknown[] {
  const { claimed, waits, depsPending, now, nodeId } = c;
  return [
    t.id ?? newTaskId(),
    t.title,
    t.description,
    t.type,
    t.priority,
    PRIORITY_RANK[t.priority],
    initialStatus(claimed, waits),
    toJson(t.required_capabilities),
    toJson(t.payload),
    claimed ? 1 : 0,
    t.max_attempts,
    t.timeout_ms,
    t.run_at,
    claimed ? 1 : 0,
    t.idempotency_key,
    depsPending,
    now,
    now,
    claimed ? nodeId : null,
    claimed ? new Date(Date.now() + c.leaseMs).toISOString() : null,
    claimed ? now : null,
    toJson(t.inferred_capabilities ?? null),
    ...flowParams(t),
    t.parent_id ?? null,
    toJson(t.wait?.wait_for ?? null),
    t.wait?.wake_at ?? null,
    t.schedule_id ?? null,
  ];
}
