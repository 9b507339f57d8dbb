/** The SQL store's workflow reads and progress: task trees, progress records, waiting counts. */
import {
  APPROVAL_SIGNAL,
  isTerminal,
  type ProgressRecord,
  type Task,
  type TaskStatus,
  type WaitFor,
} from '../../domain/index.js';
import { invalid } from '../../domain/validate.js';
import { HubError } from '../../errors/index.js';
import type { TaskTreeNode } from '../workflow-store.js';
import type { Executor } from './executor.js';
import { inFrom } from './lifecycle-sql.js';
import { json, toJson } from './rows.js';
import { isUuid } from './sql-base.js';
import { SqlWaits } from './sql-waits.js';

export class SqlWorkflow extends SqlWaits {
  /** A child's parent must exist and not have ended (its row is locked until the child is stored). */
  protected async checkParent(tx: Executor, parentId: string | null): Promise<void> {
    if (parentId === null) return;
    if (!isUuid(parentId)) throw invalid('parent_id', `expected a task id, got ${JSON.stringify(parentId)}`);
    const [p] = await tx.all(`SELECT status FROM tasks WHERE id = ?${this.dialect.rowLock}`, [parentId]);
    if (p === undefined) throw invalid('parent_id', `no task with id ${parentId}`);
    const status = p['status'] as TaskStatus;
    if (isTerminal(status))
      throw new HubError(
        'INVALID_STATE',
        `parent_id: task ${parentId} already ended ${status}; it can have no new children`,
        {
          details: { field: 'parent_id', task_id: parentId, status },
        },
      );
  }

  async cancelChildren(ids: readonly string[], reason: string, nodeId: string): Promise<Task[]> {
    if (ids.length === 0) return [];
    return this.db.transaction((tx) => this.cancelChildrenIn(tx, ids, reason, nodeId));
  }

  async taskTree(id: string, limit: number): Promise<{ tree: TaskTreeNode; truncated: boolean } | undefined> {
    if (!isUuid(id)) return undefined;
    const [root] = await this.db.all('SELECT id, title, status, wait_for FROM tasks WHERE id = ?', [id]);
    if (root === undefined) return undefined;
    const node = (r: Record<string, unknown>): TaskTreeNode => ({
      id: String(r['id']),
      title: String(r['title']),
      status: r['status'] as TaskStatus,
      wait_for: (json(this.dialect, r['wait_for']) as WaitFor | null) ?? null,
      children: [],
    });
    const tree = node(root);
    const byId = new Map([[tree.id, tree]]);
    let frontier = [tree.id];
    let count = 1;
    let truncated = false;
    while (frontier.length > 0 && !truncated) {
      const rows = await this.db.all(
        `SELECT id, title, status, wait_for, parent_id FROM tasks WHERE ${this.dialect.idIn('parent_id')}
         ORDER BY created_at, ${this.dialect.insertOrder} LIMIT ?`,
        [this.dialect.idsParam(frontier), limit - count + 1],
      );
      const next: string[] = [];
      for (const r of rows) {
        if (count >= limit) {
          truncated = true;
          break;
        }
        const n = node(r);
        byId.get(String(r['parent_id']))?.children.push(n);
        byId.set(n.id, n);
        next.push(n.id);
        count++;
      }
      frontier = next;
    }
    return { tree, truncated };
  }

  async recordProgress(records: readonly ProgressRecord[], keep: number): Promise<number> {
    if (records.length === 0) return 0;
    const ids = [...new Set(records.map((r) => r.task_id))].filter(isUuid);
    return this.db.transaction(async (tx) => {
      const known = new Set(
        (await tx.all(`SELECT id FROM tasks WHERE ${this.dialect.idIn('id')}`, [this.dialect.idsParam(ids)])).map((r) =>
          String(r['id']),
        ),
      );
      let n = 0;
      const last = new Map<string, ProgressRecord>();
      for (const r of records) {
        if (!known.has(r.task_id)) continue;
        n += await tx.run(
          `INSERT INTO task_progress (task_id, seq, percent, message, chunk, created_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (task_id, seq) DO NOTHING`,
          [r.task_id, r.seq, r.percent, r.message, r.chunk, r.at],
        );
        last.set(r.task_id, r);
      }
      for (const [taskId, r] of last) await this.keepLatest(tx, taskId, r, keep);
      return n;
    });
  }

  /** The task shows its latest progress; only its last `keep` records stay. */
  private async keepLatest(tx: Executor, taskId: string, r: ProgressRecord, keep: number): Promise<void> {
    const latest = { seq: r.seq, percent: r.percent, message: r.message, at: r.at };
    await tx.run('UPDATE tasks SET progress = ? WHERE id = ?', [toJson(latest), taskId]);
    await tx.run(
      `DELETE FROM task_progress WHERE task_id = ? AND seq < (
         SELECT seq FROM task_progress WHERE task_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
      [taskId, taskId, keep - 1],
    );
  }

  async listProgress(taskId: string, afterSeq: number, limit: number): Promise<ProgressRecord[]> {
    if (!isUuid(taskId)) return [];
    const rows = await this.db.all('SELECT * FROM task_progress WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?', [
      taskId,
      afterSeq,
      limit,
    ]);
    return rows.map((r) => ({
      task_id: String(r['task_id']),
      seq: Number(r['seq']),
      percent: r['percent'] === null ? null : Number(r['percent']),
      message: (r['message'] as string | null) ?? null,
      chunk: (r['chunk'] as string | null) ?? null,
      at: r['created_at'] instanceof Date ? r['created_at'].toISOString() : String(r['created_at']),
    }));
  }

  async countWaiting(): Promise<Record<string, number>> {
    const out: Record<string, number> = { timer: 0, signal: 0, approval: 0, children: 0 };
    const d = this.dialect;
    const rows = await this.db.all(
      `SELECT ${d.jsonText('wait_for', 'kind')} AS kind, ${d.jsonText('wait_for', 'signal')} = ? AS approval, count(*) AS n
       FROM tasks WHERE ${inFrom('wake')} GROUP BY 1, 2`,
      [APPROVAL_SIGNAL],
    );
    for (const r of rows) {
      const approval = r['approval'] === true || r['approval'] === 1;
      const reason = approval ? 'approval' : String(r['kind']);
      out[reason] = (out[reason] ?? 0) + Number(r['n']);
    }
    return out;
  }
}
