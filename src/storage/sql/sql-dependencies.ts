/** The SQL store's dependency layer: checks of depends_on, the cascade of cancels to dependants, and reads. */
import type { Task, TaskStatus } from '../../domain/index.js';
import { HubError } from '../../errors/index.js';
import type { Executor } from './executor.js';
import { rowToTask, toJson } from './rows.js';
import { inFrom, setStatus } from './lifecycle-sql.js';
import { SqlRegistry } from './sql-registry.js';

import { isUuid } from './sql-base.js';

export class SqlDependencies extends SqlRegistry {
  protected async checkDependencies(tx: Executor, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const bad = ids.findIndex((id) => !isUuid(id));
    if (bad >= 0)
      throw new HubError(
        'VALIDATION_FAILED',
        `depends_on[${bad}]: expected a task id, got ${JSON.stringify(ids[bad])}`,
        { details: { field: `depends_on[${bad}]` } },
      );
    // Locked in id order, as every batch locks, so that a submission and a batch of finishes cannot deadlock.
    const rows = await tx.all(
      `SELECT id, status FROM tasks WHERE id IN (${ids.map(() => '?').join(', ')}) ORDER BY id${this.dialect.rowLock}`,
      ids,
    );
    const status = new Map(rows.map((r) => [String(r['id']), String(r['status'])]));
    const missing = ids.findIndex((id) => !status.has(id.toLowerCase()) && !status.has(id));
    if (missing >= 0)
      throw new HubError('VALIDATION_FAILED', `depends_on[${missing}]: no task with id ${ids[missing]}`, {
        details: { field: `depends_on[${missing}]` },
      });
    let pending = 0;
    for (const [id, st] of status) {
      if (st === 'failed' || st === 'dead' || st === 'cancelled') {
        throw new HubError(
          'INVALID_STATE',
          `depends_on: task ${id} already ended ${st}, so this task could never run`,
          { details: { field: 'depends_on', task_id: id, status: st } },
        );
      }
      if (st !== 'completed') pending++;
    }
    return pending;
  }

  async cancelDependants(ids: readonly string[], reason: string, nodeId: string, tx?: Executor): Promise<Task[]> {
    if (ids.length === 0) return [];
    if (tx !== undefined) return this.cancelDependantsIn(tx, ids, reason, nodeId);
    return this.db.transaction((t) => this.cancelDependantsIn(t, ids, reason, nodeId));
  }

  /**
   * Cancels dependants level by level. Each level is a new statement, so a
   * dependant whose submission committed while this ran (it waited on our lock)
   * is found by the next level instead of being left waiting forever.
   */
  protected async cancelDependantsIn(
    tx: Executor,
    ids: readonly string[],
    reason: string,
    nodeId: string,
  ): Promise<Task[]> {
    const detail = { reason, depends_on: ids.length === 1 ? ids[0] : ids };
    return this.cancelByLevels(
      tx,
      ids,
      (frontier) =>
        `id IN (SELECT task_id FROM task_dependencies WHERE depends_on IN (${frontier.map(() => '?').join(', ')}))`,
      (frontier) => frontier,
      { code: 'DEPENDENCY_FAILED', message: reason, retryable: false },
      detail,
      nodeId,
    );
  }

  /**
   * Cancels, level by level, the open tasks that `where` finds from the level
   * before (dependants, or children), recording each with `detail`. Each level is
   * a new statement, so a task stored while this ran (it waited on our lock) is
   * found by the next level instead of being left behind.
   */
  protected async cancelByLevels(
    tx: Executor,
    ids: readonly string[],
    where: (frontier: string[]) => string,
    params: (frontier: string[]) => unknown[],
    error: NonNullable<Task['error']>,
    detail: unknown,
    nodeId: string,
  ): Promise<Task[]> {
    const out: Task[] = [];
    const now = new Date().toISOString();
    let frontier = [...ids];
    while (frontier.length > 0) {
      const rows = await tx.all(
        `UPDATE tasks SET ${setStatus('cancel')}, error = ?, completed_at = ?, lease_owner = NULL, lease_expires_at = NULL,
           wait_for = NULL, wake_at = NULL, updated_at = ?
         WHERE ${where(frontier)} AND ${inFrom('cancel')} RETURNING *`,
        [toJson(error), now, now, ...params(frontier)],
      );
      const level = rows.map((r) => rowToTask(this.dialect, r));
      for (const t of level) await this.insertEvent(tx, t.id, null, 'cancelled', null, nodeId, detail);
      out.push(...level);
      frontier = level.map((t) => t.id);
    }
    return out;
  }

  async listDependencies(taskId: string): Promise<string[]> {
    if (!isUuid(taskId)) return [];
    return (
      await this.db.all('SELECT depends_on FROM task_dependencies WHERE task_id = ? ORDER BY depends_on', [taskId])
    ).map((r) => String(r['depends_on']));
  }

  async listDependencyStatuses(
    taskIds: readonly string[],
  ): Promise<Map<string, Array<{ id: string; status: TaskStatus | 'missing' }>>> {
    const ids = taskIds.filter(isUuid);
    const out = new Map<string, Array<{ id: string; status: TaskStatus | 'missing' }>>();
    if (ids.length === 0) return out;
    const rows = await this.db.all(
      `SELECT d.task_id, d.depends_on, t.status FROM task_dependencies d LEFT JOIN tasks t ON t.id = d.depends_on
       WHERE d.task_id IN (${ids.map(() => '?').join(', ')}) ORDER BY d.task_id, d.depends_on`,
      ids,
    );
    for (const r of rows) {
      const list = out.get(String(r['task_id'])) ?? [];
      const status = typeof r['status'] === 'string' ? (r['status'] as TaskStatus) : 'missing';
      list.push({ id: String(r['depends_on']), status });
      out.set(String(r['task_id']), list);
    }
    return out;
  }
}
