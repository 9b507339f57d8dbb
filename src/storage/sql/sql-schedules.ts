/**
 * The SQL store's schedules: stored rows, and the firing pass. A pass claims
 * each due schedule's row (FOR UPDATE SKIP LOCKED on PostgreSQL), stores one
 * task per tick with an idempotency key naming the tick, and moves next_run_at
 * on, all in one transaction: a tick fires on one node, once, and a node that
 * dies mid-pass leaves the tick to the next pass.
 */
import { randomUUID } from 'node:crypto';
import {
  dueTicks,
  isTerminal,
  scheduleKey,
  tickKey,
  type NewSchedule,
  type NewTask,
  type Schedule,
  type Task,
  type TaskStatus,
} from '../../domain/index.js';
import type { FiredTicks, ScheduleBuild } from '../workflow-store.js';
import type { Executor, Row } from './executor.js';
import { isoOrNull, json, toJson } from './rows.js';
import { isUuid } from './sql-base.js';
import { SqlWorkflow } from './sql-workflow.js';

export abstract class SqlSchedules extends SqlWorkflow {
  protected abstract insertTask(
    tx: Executor,
    t: NewTask,
    nodeId: string,
    claim?: { leaseMs: number },
  ): Promise<{ task: Task; created: boolean }>;

  private rowToSchedule(r: Row): Schedule {
    return {
      id: String(r['id']),
      name: String(r['name']),
      cron: (r['cron'] as string | null) ?? null,
      interval_ms: r['interval_ms'] === null ? null : Number(r['interval_ms']),
      timezone: String(r['timezone']),
      template: json(this.dialect, r['template']) as Record<string, unknown>,
      overlap: r['overlap'] as Schedule['overlap'],
      catchup: r['catchup'] as Schedule['catchup'],
      catchup_max: Number(r['catchup_max']),
      paused: Number(r['paused']) === 1,
      next_run_at: isoOrNull(r['next_run_at']),
      last_tick_at: isoOrNull(r['last_tick_at']),
      last_task_id: (r['last_task_id'] as string | null) ?? null,
      fired: Number(r['fired']),
      skipped: Number(r['skipped']),
      created_at: String(isoOrNull(r['created_at'])),
      updated_at: String(isoOrNull(r['updated_at'])),
    };
  }

  async createSchedule(s: NewSchedule, nextRunAt: string | null): Promise<Schedule> {
    const now = new Date().toISOString();
    const rows = await this.db.all(
      `INSERT INTO schedules (id, name, cron, interval_ms, timezone, template, overlap, catchup, catchup_max, paused, next_run_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      [
        randomUUID(),
        s.name,
        s.cron,
        s.interval_ms,
        s.timezone,
        toJson(s.template),
        s.overlap,
        s.catchup,
        s.catchup_max,
        s.paused ? 1 : 0,
        nextRunAt,
        now,
        now,
      ],
    );
    return this.rowToSchedule(rows[0] ?? {});
  }

  async getSchedule(ref: string): Promise<Schedule | undefined> {
    const rows = isUuid(ref)
      ? await this.db.all('SELECT * FROM schedules WHERE id = ?', [ref])
      : await this.db.all('SELECT * FROM schedules WHERE name = ?', [ref]);
    return rows[0] === undefined ? undefined : this.rowToSchedule(rows[0]);
  }

  async listSchedules(): Promise<Schedule[]> {
    return (await this.db.all('SELECT * FROM schedules ORDER BY name')).map((r) => this.rowToSchedule(r));
  }

  async setSchedulePaused(id: string, paused: boolean, nextRunAt: string | null): Promise<Schedule | undefined> {
    if (!isUuid(id)) return undefined;
    const rows = await this.db.all(
      `UPDATE schedules SET paused = ?, next_run_at = ${paused ? 'next_run_at' : '?'}, updated_at = ? WHERE id = ? RETURNING *`,
      [paused ? 1 : 0, ...(paused ? [] : [nextRunAt]), new Date().toISOString(), id],
    );
    return rows[0] === undefined ? undefined : this.rowToSchedule(rows[0]);
  }

  async deleteSchedule(id: string): Promise<boolean> {
    return isUuid(id) && (await this.db.run('DELETE FROM schedules WHERE id = ?', [id])) > 0;
  }

  async nextScheduleAt(): Promise<string | undefined> {
    const [r] = await this.db.all('SELECT min(next_run_at) AS at FROM schedules WHERE paused = 0');
    return isoOrNull(r?.['at']) ?? undefined;
  }

  async fireSchedules(nodeId: string, now: Date, graceMs: number, build: ScheduleBuild): Promise<FiredTicks> {
    return this.db.transaction(async (tx) => {
      const due = await tx.all(
        `SELECT * FROM schedules WHERE paused = 0 AND next_run_at <= ? ORDER BY next_run_at LIMIT 50${this.dialect.claimLock}`,
        [now.toISOString()],
      );
      const out: FiredTicks = { fired: [], skipped: [] };
      for (const r of due) await this.fireOne(tx, this.rowToSchedule(r), nodeId, now, graceMs, build, out);
      return out;
    });
  }

  private async fireOne(
    tx: Executor,
    s: Schedule,
    nodeId: string,
    now: Date,
    graceMs: number,
    build: ScheduleBuild,
    out: FiredTicks,
  ): Promise<void> {
    const ticks = dueTicks(s, new Date(s.next_run_at ?? now.toISOString()), now, graceMs);
    for (let i = 0; i < ticks.skipped; i++) out.skipped.push({ schedule: s.id, tick: null, reason: 'missed' });
    let last = s.last_task_id;
    let fired = 0;
    let skipped = ticks.skipped;
    for (const tick of ticks.fire) {
      const task = await this.fireTick(tx, { ...s, last_task_id: last }, tick, nodeId, build);
      if (task === null) {
        skipped++;
        out.skipped.push({ schedule: s.id, tick: tick.toISOString(), reason: 'overlap' });
        continue;
      }
      fired++;
      last = task.id;
      out.fired.push({ schedule: s.id, tick: tick.toISOString(), task });
    }
    const lastTick = ticks.fire.at(-1)?.toISOString() ?? s.last_tick_at;
    await tx.run(
      `UPDATE schedules SET next_run_at = ?, last_tick_at = ?, last_task_id = ?, fired = fired + ?, skipped = skipped + ?, updated_at = ? WHERE id = ?`,
      [ticks.next?.toISOString() ?? null, lastTick, last, fired, skipped, now.toISOString(), s.id],
    );
  }

  /** One tick's task, or null when the overlap policy skips it (the previous run has not ended; queue_one: one waits already). */
  private async fireTick(
    tx: Executor,
    s: Schedule,
    tick: Date,
    nodeId: string,
    build: ScheduleBuild,
    key = tickKey(s.id, tick.toISOString()),
  ): Promise<Task | null> {
    if (s.overlap !== 'allow') {
      const open = await tx.all(
        'SELECT status FROM tasks WHERE schedule_id = ? AND created_at >= ? ORDER BY created_at DESC LIMIT 2',
        [s.id, s.created_at],
      );
      const running = open.filter((r) => !isTerminal(r['status'] as TaskStatus)).length;
      if (running >= (s.overlap === 'skip' ? 1 : 2)) return null;
    }
    const built = build(s, tick);
    const task: NewTask = {
      ...built,
      // queue_one: the queued run waits for the running one on the schedule's own key (limit 1, set with the schedule).
      ...(s.overlap === 'queue_one'
        ? { concurrency_keys: [...(built.concurrency_keys ?? []), scheduleKey(s.id)] }
        : {}),
      idempotency_key: key,
      schedule_id: s.id,
    };
    const { task: stored } = await this.insertTask(tx, task, nodeId);
    return stored;
  }

  async triggerSchedule(
    id: string,
    nodeId: string,
    build: ScheduleBuild,
  ): Promise<{ schedule: Schedule; task: Task | null } | undefined> {
    if (!isUuid(id)) return undefined;
    return this.db.transaction(async (tx) => {
      const [r] = await tx.all(`SELECT * FROM schedules WHERE id = ?${this.dialect.rowLock}`, [id]);
      if (r === undefined) return undefined;
      const s = this.rowToSchedule(r);
      const now = new Date();
      const task = await this.fireTick(
        tx,
        s,
        now,
        nodeId,
        build,
        tickKey(s.id, `manual:${now.toISOString()}:${randomUUID()}`),
      );
      await tx.run(
        `UPDATE schedules SET ${task === null ? 'skipped = skipped + 1' : 'fired = fired + 1, last_task_id = ?'}, updated_at = ? WHERE id = ?`,
        [...(task === null ? [] : [task.id]), new Date().toISOString(), id],
      );
      const [after] = await tx.all('SELECT * FROM schedules WHERE id = ?', [id]);
      return { schedule: this.rowToSchedule(after ?? r), task };
    });
  }
}
