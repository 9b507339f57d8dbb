/** PostgreSQL's batch of waits: the ends of attempts that wait, one statement for the whole batch (the rest of the hot path is in postgres-batch-store.ts). */
import { checkRecordedMove, type Task } from '../../domain/index.js';
import { finishGuard, setStatus } from '../sql/lifecycle-sql.js';
import { SqlStore } from '../sql/sql-store.js';
import { rowToTask, toJson } from '../sql/rows.js';
import type { Executor } from '../sql/executor.js';
import type { FinishOutcome, TaskFinish } from '../store.js';

export class PostgresSuspends extends SqlStore {
  /** Ends that wait, in one statement and one insert of their events (a fan of sleeping agents is a batch too). */
  protected override async suspendAll(
    tx: Executor,
    items: readonly TaskFinish[],
    nodeId: string,
  ): Promise<Pick<FinishOutcome, 'applied' | 'stale' | 'changed'>> {
    if (items.length === 0) return { applied: [], stale: [], changed: [] };
    const wait = (i: TaskFinish): NonNullable<TaskFinish['wait']> => {
      if (i.wait === undefined) throw new Error(`finish of ${i.id}: status waiting without a wait`);
      return i.wait;
    };
    const rows = await tx.all(
      `UPDATE tasks t SET ${setStatus('wait')}, attempts = t.attempts - 1, wait_for = u.wait_for, wake_at = u.wake_at,
         checkpoint = u.checkpoint, resume = NULL, assigned_agent = u.agent, started_at = u.started, lease_owner = NULL,
         lease_expires_at = NULL, claimed_at = NULL, run_at = NULL, usage = COALESCE(u.usage, t.usage), updated_at = ?
       FROM unnest(?::uuid[], ?::bigint[], ?::jsonb[], ?::timestamptz[], ?::jsonb[], ?::uuid[], ?::timestamptz[], ?::jsonb[])
         AS u(id, epoch, wait_for, wake_at, checkpoint, agent, started, usage)
       WHERE t.id = u.id AND t.lease_epoch = u.epoch AND ${finishGuard('t')} RETURNING t.*`,
      [
        new Date().toISOString(),
        items.map((i) => i.id),
        items.map((i) => i.epoch),
        items.map((i) => toJson(wait(i).wait_for)),
        items.map((i) => wait(i).wake_at),
        items.map((i) => toJson(wait(i).checkpoint ?? null)),
        items.map((i) => i.agentId),
        items.map((i) => i.startedAt),
        items.map((i) => toJson(i.usage ?? undefined)),
      ],
    );
    await this.settle(
      tx,
      rows.map((row) => ({ row, released: false })),
    );
    const tasks = rows.map((r) => rowToTask(this.dialect, r));
    const stored = new Set(tasks.map((t) => t.id));
    for (const t of tasks) checkRecordedMove(t.id, 'running', 'waiting');
    await tx.run(
      `INSERT INTO task_events (task_id, from_status, to_status, agent_id, node_id, detail, created_at)
       SELECT u.id, 'running', 'waiting', u.agent, ?, u.detail, ? FROM unnest(?::uuid[], ?::uuid[], ?::jsonb[]) AS u(id, agent, detail)`,
      [
        nodeId,
        new Date().toISOString(),
        tasks.map((t) => t.id),
        tasks.map((t) => t.assigned_agent),
        tasks.map((t) => toJson({ wait_for: t.wait_for, wake_at: t.wake_at })),
      ],
    );
    const changed: Task[] = [];
    for (const t of tasks) if (t.wait_for?.kind !== 'timer') changed.push(...(await this.settleWait(tx, t, nodeId)));
    return {
      applied: tasks.map((t) => ({ id: t.id, status: 'waiting' as const })),
      stale: items.filter((i) => !stored.has(i.id)).map((i) => i.id),
      changed,
    };
  }
}
