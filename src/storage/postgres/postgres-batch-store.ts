/**
 * PostgreSQL's hot path: every batch is one statement over arrays (unnest), so
 * claiming, starting, finishing and bulk-inserting N tasks costs one round trip,
 * not N. Semantics are the shared SqlStore's (the conformance suite runs both).
 */
import type pg from 'pg';
import {
  PRIORITY_RANK,
  checkRecordedMove,
  initialStatus,
  newTaskId,
  type NewTask,
  type Task,
} from '../../domain/index.js';
import { finishGuard, inFrom, setStatus } from '../sql/lifecycle-sql.js';
import { PostgresSuspends } from './postgres-suspends.js';
import { flowParams, rowToTask, toJson } from '../sql/rows.js';
import type { Executor, Row } from '../sql/executor.js';
import type { ClaimRequest, FinishOutcome, TaskFinish, TaskStart } from '../store.js';

/** The channel on which a node announces claimable tasks. */
const CHANNEL = 'hive_tasks';

/** Freed concurrency slots are announced at most this often (claims also poll every second). */
const SLOT_NOTIFY_MS = 50;

export class PostgresBatchStore extends PostgresSuspends {
  private slotNotified = 0;
  /** Set by openPostgresStore: how to open the dedicated LISTEN connection. */
  listenConnection: (() => pg.Client) | undefined;

  override async listenForTasks(onTasks: () => void): Promise<() => Promise<void>> {
    const open = this.listenConnection;
    if (open === undefined) return () => Promise.resolve();
    let client: pg.Client | undefined;
    let stopped = false;
    let retrying = false;
    // A dropped or refused LISTEN connection is opened again every second until it holds; polling covers the gap.
    const retry = (c: pg.Client): void => {
      void c.end().catch(() => undefined);
      if (stopped || retrying) return;
      retrying = true;
      setTimeout(() => {
        retrying = false;
        connect().catch(() => undefined);
      }, 1000).unref();
    };
    const connect = async (): Promise<void> => {
      if (stopped) return;
      const c = open();
      c.on('notification', () => onTasks());
      c.on('error', () => retry(c));
      try {
        await c.connect();
        await c.query(`LISTEN ${CHANNEL}`);
      } catch (err) {
        retry(c);
        throw err;
      }
      client = c;
    };
    await connect();
    return async () => {
      stopped = true;
      await client?.end().catch(() => undefined);
    };
  }

  /** Wakes every listening node (NOTIFY is delivered at commit; identical ones in a transaction are sent once). */
  private async notifyTasks(db: Executor = this.db): Promise<void> {
    await db.run(`SELECT pg_notify('${CHANNEL}', '')`);
  }

  /** One statement: pick with SKIP LOCKED and claim. */
  protected override async claimPlain(req: ClaimRequest, unflowedOnly: boolean): Promise<Task[]> {
    const now = new Date();
    const w = this.claimWhere(req, now, unflowedOnly);
    const rows = await this.db.all(
      `WITH picked AS (SELECT id FROM tasks${w.sql} ORDER BY priority_rank DESC, seq LIMIT ? FOR UPDATE SKIP LOCKED)
       UPDATE tasks t SET ${setStatus('claim')}, lease_owner = ?, lease_expires_at = ?, lease_epoch = t.lease_epoch + 1, attempts = t.attempts + 1,
         claimed_at = ?, updated_at = ?
       FROM picked WHERE t.id = picked.id RETURNING t.*`,
      [
        ...w.params,
        req.limit,
        req.nodeId,
        new Date(now.getTime() + req.leaseMs).toISOString(),
        now.toISOString(),
        now.toISOString(),
      ],
    );
    rows.sort((a, b) => Number(b['priority_rank']) - Number(a['priority_rank']) || Number(a['seq']) - Number(b['seq']));
    return rows.map((r) => rowToTask(this.dialect, r));
  }

  override async createTasks(
    tasks: readonly NewTask[],
    nodeId: string,
    claims?: ReadonlyArray<{ leaseMs: number } | undefined>,
  ): Promise<Array<{ task: Task; created: boolean }>> {
    // Dependencies, parents and waits need their checks and rows: the per-task path handles those batches.
    if (tasks.some((t) => t.depends_on.length > 0 || (t.parent_id ?? null) !== null || (t.wait ?? null) !== null))
      return super.createTasks(tasks, nodeId, claims);
    const now = new Date().toISOString();
    const ids = tasks.map((t) => t.id ?? newTaskId());
    const leases = tasks.map((_, i) => {
      const c = claims?.[i];
      return c === undefined ? null : new Date(Date.now() + c.leaseMs).toISOString();
    });
    const inserted = await this.insertTasks(tasks, ids, leases, nodeId, now);
    if (leases.some((l) => l === null) && inserted.size > 0) await this.notifyTasks();
    // The rows are what was sent: build them here rather than read every column back.
    const byId = new Map<string, Task>();
    tasks.forEach((t, i) => {
      const id = ids[i] ?? '';
      if (!inserted.has(id)) return;
      const lease = leases[i] ?? null;
      const row = newTaskRow(id, t, now);
      byId.set(id, lease === null ? row : claimedRow(row, nodeId, lease, now));
    });
    return this.withDuplicates(tasks, ids, byId);
  }

  /** One INSERT … SELECT FROM unnest for the batch; returns the ids it inserted (a duplicate key inserts nothing). */
  private async insertTasks(
    tasks: readonly NewTask[],
    ids: string[],
    leases: Array<string | null>,
    nodeId: string,
    now: string,
  ): Promise<Set<string>> {
    const rows = await this.db.all(
      `INSERT INTO tasks (id, title, description, type, priority, priority_rank, status, required_capabilities, payload,
         attempts, max_attempts, timeout_ms, run_at, lease_epoch, idempotency_key, deps_pending, created_at, updated_at,
         lease_owner, lease_expires_at, claimed_at, inferred_capabilities, concurrency_keys, fairness_key, cost, flowed)
       SELECT u.id, u.title, u.description, u.type, u.priority, u.rank,
         CASE WHEN u.lease IS NULL THEN '${initialStatus(false)}' ELSE '${initialStatus(true)}' END, u.req, u.payload,
         CASE WHEN u.lease IS NULL THEN 0 ELSE 1 END, u.max_attempts, u.timeout_ms, u.run_at,
         CASE WHEN u.lease IS NULL THEN 0 ELSE 1 END, u.key, 0, ?, ?,
         CASE WHEN u.lease IS NULL THEN NULL ELSE ? END, u.lease, CASE WHEN u.lease IS NULL THEN NULL ELSE ?::timestamptz END, u.inferred,
         u.keys, u.tenant, u.cost, u.flowed
       FROM unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[], ?::int[], ?::jsonb[], ?::jsonb[], ?::int[], ?::int[], ?::timestamptz[], ?::text[], ?::timestamptz[], ?::jsonb[],
           ?::jsonb[], ?::text[], ?::jsonb[], ?::smallint[])
         WITH ORDINALITY AS u(id, title, description, type, priority, rank, req, payload, max_attempts, timeout_ms, run_at, key, lease, inferred, keys, tenant, cost, flowed, n)
       ORDER BY u.n
       ${this.dialect.idempotencyConflict} DO NOTHING RETURNING id`,
      [
        now,
        now,
        nodeId,
        now,
        ids,
        tasks.map((t) => t.title),
        tasks.map((t) => t.description),
        tasks.map((t) => t.type),
        tasks.map((t) => t.priority),
        tasks.map((t) => PRIORITY_RANK[t.priority]),
        tasks.map((t) => toJson(t.required_capabilities)),
        tasks.map((t) => toJson(t.payload)),
        tasks.map((t) => t.max_attempts),
        tasks.map((t) => t.timeout_ms),
        tasks.map((t) => t.run_at),
        tasks.map((t) => t.idempotency_key),
        leases,
        tasks.map((t) => toJson(t.inferred_capabilities ?? null)),
        ...transpose(tasks.map(flowParams), 4),
      ],
    );
    return new Set(rows.map((r) => String(r['id'])));
  }

  /** Each submission's task: the one inserted, or the one its idempotency key already named. */
  private async withDuplicates(
    tasks: readonly NewTask[],
    ids: string[],
    byId: Map<string, Task>,
  ): Promise<Array<{ task: Task; created: boolean }>> {
    const missingKeys = tasks
      .filter((t, i) => !byId.has(ids[i] ?? '') && t.idempotency_key !== null)
      .map((t) => t.idempotency_key);
    const byKey = new Map<string, Task>();
    if (missingKeys.length > 0) {
      for (const r of await this.db.all('SELECT * FROM tasks WHERE idempotency_key = ANY(?::text[])', [missingKeys]))
        byKey.set(String(r['idempotency_key']), rowToTask(this.dialect, r));
    }
    return tasks.map((t, i) => {
      const created = byId.get(ids[i] ?? '');
      if (created !== undefined) return { task: created, created: true };
      const existing = byKey.get(t.idempotency_key ?? '');
      if (existing === undefined) throw new Error(`task ${i} was neither inserted nor found by its idempotency key`);
      return { task: existing, created: false };
    });
  }

  override async startTasks(items: readonly TaskStart[]): Promise<string[]> {
    if (items.length === 0) return [];
    const rows = await this.db.all(
      `UPDATE tasks t SET ${setStatus('start')}, assigned_agent = u.agent, started_at = u.started, updated_at = u.started
       FROM unnest(?::uuid[], ?::bigint[], ?::uuid[], ?::timestamptz[]) AS u(id, epoch, agent, started)
       WHERE t.id = u.id AND t.lease_epoch = u.epoch AND ${inFrom('start', 't')} RETURNING t.id`,
      [items.map((i) => i.id), items.map((i) => i.epoch), items.map((i) => i.agentId), items.map((i) => i.startedAt)],
    );
    return rows.map((r) => String(r['id']));
  }

  override async finishTasks(all: readonly TaskFinish[], nodeId: string): Promise<FinishOutcome> {
    if (all.length === 0) return { applied: [], stale: [], cascaded: [], changed: [] };
    // One lock order for every batch (by id), so two flushes can never deadlock.
    const sorted = [...all].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const waiting = sorted.filter((i) => i.status === 'waiting');
    return this.db.transaction(async (tx) => {
      const waits = await this.suspendAll(tx, waiting, nodeId);
      const out = await this.finishBatch(
        tx,
        waiting.length === 0 ? sorted : sorted.filter((i) => i.status !== 'waiting'),
        nodeId,
      );
      return {
        applied: [...waits.applied, ...out.applied],
        stale: [...waits.stale, ...out.stale],
        cascaded: out.cascaded,
        changed: [...waits.changed, ...out.changed],
      };
    });
  }

  private async finishBatch(tx: Executor, sorted: readonly TaskFinish[], nodeId: string): Promise<FinishOutcome> {
    if (sorted.length === 0) return { applied: [], stale: [], cascaded: [], changed: [] };
    {
      const now = new Date().toISOString();
      const settles = await this.anyBucketRule(tx);
      const rows = await tx.all(
        `UPDATE tasks t SET status = u.status, result = u.result, error = u.error, assigned_agent = u.agent, started_at = u.started, completed_at = u.completed,
           claimed_at = CASE WHEN u.status = 'pending' THEN NULL ELSE t.claimed_at END,
           run_at = CASE WHEN u.status = 'pending' THEN u.run_at ELSE t.run_at END,
           lease_owner = NULL, lease_expires_at = NULL, updated_at = ?, usage = COALESCE(u.usage, t.usage)
         FROM unnest(?::uuid[], ?::bigint[], ?::text[], ?::jsonb[], ?::jsonb[], ?::uuid[], ?::timestamptz[], ?::timestamptz[], ?::timestamptz[], ?::jsonb[])
           AS u(id, epoch, status, result, error, agent, started, completed, run_at, usage)
         WHERE t.id = u.id AND t.lease_epoch = u.epoch AND ${finishGuard('t')}
         RETURNING t.id, t.has_dependants, t.flowed, t.parent_id${settles ? ', t.concurrency_keys, t.cost, t.usage' : ''}`,
        [
          now,
          sorted.map((i) => i.id),
          sorted.map((i) => i.epoch),
          sorted.map((i) => i.status),
          sorted.map((i) => (i.status === 'completed' ? (i.resultJson ?? toJson(i.result ?? null)) : null)),
          sorted.map((i) => toJson(i.error ?? null)),
          sorted.map((i) => (i.status === 'pending' ? null : i.agentId)),
          sorted.map((i) => (i.status === 'pending' ? null : i.startedAt)),
          sorted.map((i) => i.completedAt),
          sorted.map((i) => (i.status === 'pending' ? (i.runAt ?? null) : null)),
          sorted.map((i) => toJson(i.usage ?? undefined)),
        ],
      );
      await this.settle(
        tx,
        rows.map((row) => ({ row, released: false })),
      );
      // A key's slot is free: every node claims again (when some concurrency rule could have held a task back; at most every 50 ms).
      if (rows.some((r) => Number(r['flowed']) === 1) && Date.now() - this.slotNotified >= SLOT_NOTIFY_MS) {
        if (await this.anyConcurrencyRule(tx)) {
          this.slotNotified = Date.now();
          await this.notifyTasks(tx);
        }
      }
      return this.afterFinish(tx, sorted, rows, nodeId);
    }
  }

  /** Events for the exceptional ends, dependants made ready, dependants of failures cancelled. */
  private async afterFinish(
    tx: Executor,
    items: readonly TaskFinish[],
    rows: Row[],
    nodeId: string,
  ): Promise<FinishOutcome> {
    const appliedIds = new Set(rows.map((r) => String(r['id'])));
    const applied = items.filter((i) => appliedIds.has(i.id)).map((i) => ({ id: i.id, status: i.status }));
    const stale = items.filter((i) => !appliedIds.has(i.id)).map((i) => i.id);
    const exceptional = items.filter((i) => appliedIds.has(i.id) && i.status !== 'completed');
    for (const i of exceptional) checkRecordedMove(i.id, 'running', i.status);
    if (exceptional.length > 0) {
      await tx.run(
        `INSERT INTO task_events (task_id, from_status, to_status, agent_id, node_id, detail, created_at)
         SELECT u.id, 'running', u.status, u.agent, ?, u.detail, ? FROM unnest(?::uuid[], ?::text[], ?::uuid[], ?::jsonb[]) AS u(id, status, agent, detail)`,
        [
          nodeId,
          new Date().toISOString(),
          exceptional.map((i) => i.id),
          exceptional.map((i) => i.status),
          exceptional.map((i) => i.agentId),
          exceptional.map((i) => toJson(i.detail ?? null)),
        ],
      );
    }
    const completedWithDependants = rows
      .filter(
        (r) =>
          r['has_dependants'] === true && applied.some((a) => a.id === String(r['id']) && a.status === 'completed'),
      )
      .map((r) => String(r['id']));
    if (completedWithDependants.length > 0) {
      await tx.run(
        `UPDATE tasks SET deps_pending = deps_pending - c.n
         FROM (SELECT task_id, count(*)::int AS n FROM task_dependencies WHERE depends_on = ANY(?::uuid[]) GROUP BY task_id) c WHERE tasks.id = c.task_id`,
        [completedWithDependants],
      );
    }
    const ended = applied.filter((a) => a.status === 'failed' || a.status === 'dead').map((a) => a.id);
    const cascaded =
      ended.length === 0 ? [] : await this.cancelDependants(ended, 'a task it depends on did not complete', nodeId, tx);
    const status = new Map(applied.map((a) => [a.id, a.status]));
    const children = rows.map((r) => ({
      id: String(r['id']),
      status: status.get(String(r['id'])) ?? 'completed',
      parent_id: (r['parent_id'] as string | null) ?? null,
    }));
    const changed =
      children.some((c) => c.parent_id !== null) || ended.length > 0 || cascaded.some((c) => c.parent_id !== null)
        ? await this.afterChildEnds(tx, [...children, ...cascaded], nodeId)
        : [];
    return { applied, stale, cascaded, changed };
  }
}

/** A task as just inserted (pending, nothing run yet). */
function newTaskRow(id: string, t: NewTask, now: string): Task {
  return {
    id,
    title: t.title,
    description: t.description,
    type: t.type,
    priority: t.priority,
    status: initialStatus(false),
    required_capabilities: t.required_capabilities,
    payload: t.payload,
    result: null,
    error: null,
    assigned_agent: null,
    attempts: 0,
    max_attempts: t.max_attempts,
    timeout_ms: t.timeout_ms,
    run_at: t.run_at,
    lease_owner: null,
    lease_expires_at: null,
    lease_epoch: 0,
    idempotency_key: t.idempotency_key,
    created_at: now,
    updated_at: now,
    started_at: null,
    completed_at: null,
    claimed_at: null,
    inferred_capabilities: t.inferred_capabilities ?? null,
    concurrency_keys: t.concurrency_keys ?? [],
    fairness_key: t.fairness_key === undefined || t.fairness_key === '' ? null : t.fairness_key,
    cost: t.cost ?? null,
    usage: null,
    parent_id: null,
    wait_for: null,
    wake_at: null,
    checkpoint: null,
    resume: null,
    progress: null,
    schedule_id: t.schedule_id ?? null,
  };
}

/** Columns of rows (the parameters of one unnest). */
function transpose<T extends unknown[]>(rows: readonly T[], width: number): unknown[][] {
  return Array.from({ length: width }, (_, c) => rows.map((r) => r[c]));
}

/** A new task's row as stored already claimed by this node (direct hand-off). */
function claimedRow(row: Task, nodeId: string, lease: string, now: string): Task {
  return {
    ...row,
    status: 'assigned',
    attempts: 1,
    lease_epoch: 1,
    lease_owner: nodeId,
    lease_expires_at: lease,
    claimed_at: now,
  };
}
