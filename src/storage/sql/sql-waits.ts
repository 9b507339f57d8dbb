/**
 * The SQL store's wait layer (docs/workflows.md): an attempt that ends by
 * waiting, the wakes (a timer, a signal, its children, a timeout), and what an
 * ended task does to its parent and its children. Every status write goes
 * through an operation of the lifecycle.
 */
import {
  APPROVAL_SIGNAL,
  REDRIVE_PATCH,
  afterFailure,
  childVerdict,
  isTerminal,
  type BackoffPolicy,
  type ChildOutcome,
  type Resume,
  type Task,
  type TaskStatus,
  type WaitFor,
} from '../../domain/index.js';
import type { FinishOutcome, TaskFinish } from '../store.js';
import type { SignalInput, SignalOutcome, WakeOutcome } from '../workflow-store.js';
import type { Executor } from './executor.js';
import { finishGuard, inFrom, setStatus } from './lifecycle-sql.js';
import { isoOrNull, json, rowToTask, toJson } from './rows.js';
import { isUuid } from './sql-base.js';
import { SqlFlowStore } from './sql-flow-store.js';

type TaskError = NonNullable<Task['error']>;

export class SqlWaits extends SqlFlowStore {
  /**
   * After a batch of attempt ends: the parents of children that ended look at
   * their children again, and the open children of parents that ended without
   * completing are cancelled.
   */
  protected async afterChildEnds(
    tx: Executor,
    ended: ReadonlyArray<{ id: string; status: TaskStatus; parent_id: string | null }>,
    nodeId: string,
  ): Promise<Task[]> {
    const out: Task[] = [];
    const failed = ended.filter((e) => e.status === 'failed' || e.status === 'dead').map((e) => e.id);
    if (failed.length > 0)
      out.push(...(await this.cancelChildrenIn(tx, failed, 'its parent ended without completing', nodeId)));
    const parents = new Set<string>();
    for (const e of ended) if (e.parent_id !== null && isTerminal(e.status)) parents.add(e.parent_id);
    for (const t of out) if (t.parent_id !== null) parents.add(t.parent_id);
    // In id order, as every batch locks rows, so that two batches cannot wait on each other's parents.
    if (parents.size > 0) out.push(...(await this.childrenEnded(tx, [...parents].sort(), nodeId)));
    return out;
  }
  /** Ends that wait, one statement each (a rare path), fenced like every end; a signal or children that already arrived wake the task at once. */
  protected async suspendAll(
    tx: Executor,
    items: readonly TaskFinish[],
    nodeId: string,
  ): Promise<Pick<FinishOutcome, 'applied' | 'stale' | 'changed'>> {
    const out: Pick<FinishOutcome, 'applied' | 'stale' | 'changed'> = { applied: [], stale: [], changed: [] };
    const now = new Date().toISOString();
    for (const it of items) {
      const w = it.wait;
      if (w === undefined) throw new Error(`finish of ${it.id}: status waiting without a wait`);
      const rows = await tx.all(
        `UPDATE tasks SET ${setStatus('wait')}, attempts = attempts - 1, wait_for = ?, wake_at = ?, checkpoint = ?, resume = NULL,
           assigned_agent = ?, started_at = ?, lease_owner = NULL, lease_expires_at = NULL, claimed_at = NULL, run_at = NULL,
           usage = COALESCE(?, usage), updated_at = ?
         WHERE id = ? AND lease_epoch = ? AND ${finishGuard()} RETURNING *`,
        [
          toJson(w.wait_for),
          w.wake_at,
          toJson(w.checkpoint ?? null),
          it.agentId,
          it.startedAt,
          toJson(it.usage ?? undefined),
          now,
          it.id,
          it.epoch,
        ],
      );
      const row = rows[0];
      if (row === undefined) {
        out.stale.push(it.id);
        continue;
      }
      await this.settle(tx, [{ row, released: false }]);
      await this.insertEvent(tx, it.id, 'running', 'waiting', it.agentId, nodeId, {
        wait_for: w.wait_for,
        wake_at: w.wake_at,
      });
      out.applied.push({ id: it.id, status: 'waiting' });
      out.changed.push(...(await this.settleWait(tx, rowToTask(this.dialect, row), nodeId)));
    }
    return out;
  }

  /** A task that just began to wait: what it waits for may be there already (a signal sent before, children that ended). */
  protected async settleWait(tx: Executor, task: Task, nodeId: string): Promise<Task[]> {
    const w = task.wait_for;
    if (w?.kind === 'signal') return this.consumeSignal(tx, task.id, w.signal, nodeId);
    if (w?.kind === 'children') return this.childrenEnded(tx, [task.id], nodeId);
    return [];
  }

  /** Back to pending with what woke it (its next attempt gets `resume` and its checkpoint). */
  protected async wake(tx: Executor, id: string, resume: Resume, nodeId: string): Promise<Task[]> {
    const rows = await tx.all(
      `UPDATE tasks SET ${setStatus('wake')}, wait_for = NULL, wake_at = NULL, resume = ?, run_at = NULL, updated_at = ?
       WHERE id = ? AND ${inFrom('wake')} RETURNING *`,
      [toJson(resume), new Date().toISOString(), id],
    );
    if (rows[0] === undefined) return [];
    await this.insertEvent(tx, id, 'waiting', 'pending', null, nodeId, { reason: `woken: ${resume.reason}` });
    return [rowToTask(this.dialect, rows[0])];
  }

  /** A waiting task ends failed (a rejected approval, a failed child); what hangs on it follows. */
  protected async giveUp(tx: Executor, id: string, error: TaskError, nodeId: string): Promise<Task[]> {
    const now = new Date().toISOString();
    const rows = await tx.all(
      `UPDATE tasks SET ${setStatus('give_up')}, error = ?, completed_at = ?, wait_for = NULL, wake_at = NULL, updated_at = ?
       WHERE id = ? AND ${inFrom('give_up')} RETURNING *`,
      [toJson(error), now, now, id],
    );
    if (rows[0] === undefined) return [];
    await this.insertEvent(tx, id, 'waiting', 'failed', null, nodeId, { code: error.code, reason: error.message });
    const task = rowToTask(this.dialect, rows[0]);
    return [task, ...(await this.afterEnded(tx, [task], nodeId))];
  }

  /**
   * What follows tasks that ended outside an attempt's end (a give-up, an
   * expiry, a cancel): their dependants are cancelled if they did not complete,
   * their open children are cancelled, and their parents look again at their children.
   */
  protected async afterEnded(tx: Executor, ended: readonly Task[], nodeId: string): Promise<Task[]> {
    const out: Task[] = [];
    const failed = ended.filter((t) => t.status !== 'completed').map((t) => t.id);
    if (failed.length > 0) {
      out.push(...(await this.cancelDependantsIn(tx, failed, 'a task it depends on did not complete', nodeId)));
      out.push(...(await this.cancelChildrenIn(tx, failed, 'its parent ended without completing', nodeId)));
    }
    const parents = [...new Set(ended.map((t) => t.parent_id).filter((p): p is string => p !== null))].sort();
    if (parents.length > 0) out.push(...(await this.childrenEnded(tx, parents, nodeId)));
    return out;
  }

  /** Cancels these tasks' open descendants, level by level; each level's dependants too. */
  protected async cancelChildrenIn(
    tx: Executor,
    ids: readonly string[],
    reason: string,
    nodeId: string,
  ): Promise<Task[]> {
    const out = await this.cancelByLevels(
      tx,
      ids,
      () => this.dialect.idIn('parent_id'),
      (frontier) => [this.dialect.idsParam(frontier)],
      { code: 'PARENT_ENDED', message: reason, retryable: false },
      { reason },
      nodeId,
    );
    if (out.length > 0)
      out.push(
        ...(await this.cancelDependantsIn(
          tx,
          out.map((t) => t.id),
          'a task it depends on was cancelled',
          nodeId,
        )),
      );
    return out;
  }

  /** Parents that wait for their children look at them again: wake, fail, run failed ones again, or keep waiting. */
  protected async childrenEnded(tx: Executor, parentIds: readonly string[], nodeId: string): Promise<Task[]> {
    const out: Task[] = [];
    for (const id of parentIds) {
      const [p] = await tx.all(`SELECT status, wait_for FROM tasks WHERE id = ?${this.dialect.rowLock}`, [id]);
      const w = json(this.dialect, p?.['wait_for']) as WaitFor | null;
      if (p?.['status'] !== 'waiting' || w?.kind !== 'children') continue;
      const kids = await tx.all(
        `SELECT id, title, status, result, error, child_redrives FROM tasks WHERE parent_id = ? ORDER BY created_at, ${this.dialect.insertOrder}`,
        [id],
      );
      const ended = (r: Record<string, unknown>): boolean => isTerminal(r['status'] as TaskStatus);
      const failedKids = kids.filter((r) => ended(r) && r['status'] !== 'completed');
      const verdict = childVerdict(w, {
        total: kids.length,
        completed: kids.filter((r) => r['status'] === 'completed').length,
        failed: failedKids.length,
        retryable: failedKids.filter(
          (r) => r['status'] !== 'cancelled' && Number(r['child_redrives']) < w.child_retries,
        ).length,
      });
      if (verdict === 'wake') out.push(...(await this.wake(tx, id, this.childrenResume(kids), nodeId)));
      else if (verdict === 'retry') out.push(...(await this.redriveChildren(tx, id, nodeId)));
      else if (verdict === 'fail') {
        const first = failedKids[0] ?? {};
        const err = json(this.dialect, first['error']) as TaskError | null;
        out.push(
          ...(await this.giveUp(
            tx,
            id,
            {
              code: 'CHILD_FAILED',
              message: `child ${String(first['id'])} ended ${String(first['status'])}${err === null ? '' : `: ${err.message}`}`,
              retryable: false,
            },
            nodeId,
          )),
        );
      }
    }
    return out;
  }

  private childrenResume(kids: ReadonlyArray<Record<string, unknown>>): Resume {
    const children: ChildOutcome[] = kids.map((r) => ({
      id: String(r['id']),
      title: String(r['title']),
      status: r['status'] as TaskStatus,
      result: json(this.dialect, r['result']),
      error: json(this.dialect, r['error']) as ChildOutcome['error'],
    }));
    return { reason: 'children', at: new Date().toISOString(), children };
  }

  /** The retry policy: the parent's failed children run again from their first attempt. */
  private async redriveChildren(tx: Executor, parentId: string, nodeId: string): Promise<Task[]> {
    const again = Object.keys(REDRIVE_PATCH)
      .map((c) => `${c} = ?`)
      .join(', ');
    const rows = await tx.all(
      `UPDATE tasks SET ${setStatus('redrive')}, ${again}, child_redrives = child_redrives + 1, updated_at = ?
       WHERE parent_id = ? AND ${inFrom('redrive')} RETURNING *`,
      [...Object.values(REDRIVE_PATCH), new Date().toISOString(), parentId],
    );
    const out = rows.map((r) => rowToTask(this.dialect, r));
    for (const t of out)
      await this.insertEvent(tx, t.id, null, 'pending', null, nodeId, {
        reason: 'run again by its parent (retry policy)',
      });
    return out;
  }

  async signalTask(id: string, s: SignalInput, nodeId: string): Promise<SignalOutcome> {
    if (!isUuid(id)) return { outcome: 'not_found' };
    return this.db.transaction(async (tx) => {
      const [row] = await tx.all(`SELECT status, wait_for FROM tasks WHERE id = ?${this.dialect.rowLock}`, [id]);
      if (row === undefined) return { outcome: 'not_found' };
      const status = row['status'] as TaskStatus;
      if (isTerminal(status)) return { outcome: 'ended', status };
      await tx.run('INSERT INTO task_signals (task_id, name, payload, sent_by, created_at) VALUES (?, ?, ?, ?, ?)', [
        id,
        s.name,
        toJson(s.payload ?? null),
        s.sentBy,
        new Date().toISOString(),
      ]);
      const w = json(this.dialect, row['wait_for']) as WaitFor | null;
      const waits = status === 'waiting' && w?.kind === 'signal' && w.signal === s.name;
      const changed = waits ? await this.consumeSignal(tx, id, s.name, nodeId) : [];
      const [after] = await tx.all('SELECT * FROM tasks WHERE id = ?', [id]);
      return { outcome: 'stored', task: rowToTask(this.dialect, after ?? {}), woke: changed.length > 0, changed };
    });
  }

  /** The oldest open signal of that name ends the wait: the task resumes with it (a rejected approval fails it). */
  private async consumeSignal(tx: Executor, taskId: string, name: string, nodeId: string): Promise<Task[]> {
    const [sig] = await tx.all(
      'SELECT id, payload, sent_by FROM task_signals WHERE task_id = ? AND name = ? AND consumed_at IS NULL ORDER BY id LIMIT 1',
      [taskId, name],
    );
    if (sig === undefined) return [];
    await tx.run('UPDATE task_signals SET consumed_at = ? WHERE id = ?', [new Date().toISOString(), sig['id']]);
    const payload = json(this.dialect, sig['payload']);
    const sentBy = (sig['sent_by'] as string | null) ?? null;
    const verdict = payload as { approved?: unknown; reason?: unknown } | null;
    if (name === APPROVAL_SIGNAL && verdict?.approved === false) {
      const why = typeof verdict.reason === 'string' && verdict.reason !== '' ? `: ${verdict.reason}` : '';
      return this.giveUp(
        tx,
        taskId,
        { code: 'APPROVAL_REJECTED', message: `rejected by ${sentBy ?? 'unknown'}${why}`, retryable: false },
        nodeId,
      );
    }
    const resume: Resume = {
      reason: 'signal',
      at: new Date().toISOString(),
      signal: { name, payload, sent_by: sentBy },
    };
    return this.wake(tx, taskId, resume, nodeId);
  }

  async wakeDue(nodeId: string, limit: number, backoff: BackoffPolicy): Promise<WakeOutcome> {
    return this.db.transaction(async (tx) => {
      const now = new Date();
      const due = await tx.all(
        `SELECT id, wait_for, attempts, max_attempts FROM tasks WHERE ${inFrom('wake')} AND wake_at <= ? ORDER BY wake_at LIMIT ?${this.dialect.claimLock}`,
        [now.toISOString(), limit],
      );
      const out: WakeOutcome = { woken: [], expired: [], changed: [] };
      const timers = due.filter((r) => (json(this.dialect, r['wait_for']) as WaitFor).kind === 'timer');
      out.woken.push(
        ...(await this.wakeTimers(
          tx,
          timers.map((r) => String(r['id'])),
          now,
          nodeId,
        )),
      );
      for (const r of due) {
        const id = String(r['id']);
        const w = json(this.dialect, r['wait_for']) as WaitFor;
        if (w.kind === 'timer') continue;
        const attempt = Number(r['attempts']) + 1;
        const next = afterFailure(backoff, true, attempt, Number(r['max_attempts']));
        const error = { code: 'WAIT_TIMEOUT', message: timeoutMessage(w), retryable: true };
        const delay = next.action === 'retry' ? next.delayMs : null;
        const [task, ...others] = await this.timeOut(tx, id, attempt, error, delay, nodeId);
        if (task !== undefined) (task.status === 'dead' ? out.expired : out.woken).push(task);
        out.changed.push(...others);
      }
      return out;
    });
  }

  /** Timers that came due, in one statement (and one insert of their events). */
  private async wakeTimers(tx: Executor, ids: string[], now: Date, nodeId: string): Promise<Task[]> {
    if (ids.length === 0) return [];
    const resume: Resume = { reason: 'timer', at: now.toISOString() };
    const rows = await tx.all(
      `UPDATE tasks SET ${setStatus('wake')}, wait_for = NULL, wake_at = NULL, resume = ?, run_at = NULL, updated_at = ?
       WHERE ${this.dialect.idIn('id')} AND ${inFrom('wake')} RETURNING *`,
      [toJson(resume), now.toISOString(), this.dialect.idsParam(ids)],
    );
    const tasks = rows.map((r) => rowToTask(this.dialect, r));
    const detail = { reason: 'woken: timer' };
    await this.insertEvents(
      tx,
      tasks.map((t) => ({ taskId: t.id, from: 'waiting' as const, to: 'pending' as const, detail })),
      nodeId,
    );
    return tasks;
  }

  /** A wait that timed out is a failed attempt: pending again after `delayMs` (resume: timeout), or dead when null. */
  private async timeOut(
    tx: Executor,
    id: string,
    attempt: number,
    error: TaskError,
    delayMs: number | null,
    nodeId: string,
  ): Promise<Task[]> {
    const now = new Date();
    const retry = delayMs !== null;
    const rows = await tx.all(
      `UPDATE tasks SET ${setStatus(retry ? 'wake' : 'expire')}, attempts = ?, error = ?, wait_for = NULL, wake_at = NULL,
         resume = ?, run_at = ?, completed_at = ?, updated_at = ? WHERE id = ? AND ${inFrom('wake')} RETURNING *`,
      [
        attempt,
        toJson(error),
        toJson(retry ? { reason: 'timeout', at: now.toISOString() } : null),
        retry ? new Date(now.getTime() + delayMs).toISOString() : null,
        retry ? null : now.toISOString(),
        now.toISOString(),
        id,
      ],
    );
    if (rows[0] === undefined) return [];
    const task = rowToTask(this.dialect, rows[0]);
    await this.insertEvent(tx, id, 'waiting', task.status, null, nodeId, { code: error.code, reason: error.message });
    return retry ? [task] : [task, ...(await this.afterEnded(tx, [task], nodeId))];
  }

  async nextWakeAt(): Promise<string | undefined> {
    const [r] = await this.db.all(`SELECT min(wake_at) AS at FROM tasks WHERE ${inFrom('wake')}`);
    return isoOrNull(r?.['at']) ?? undefined;
  }
}

function timeoutMessage(w: WaitFor): string {
  const what = w.kind === 'signal' ? `the signal "${w.signal}"` : w.kind === 'children' ? 'its children' : 'its timer';
  const ms = w.kind === 'timer' ? null : w.timeout_ms;
  return `waited ${ms ?? '?'} ms for ${what}: timed out`;
}
