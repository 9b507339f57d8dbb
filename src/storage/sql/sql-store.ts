import { randomUUID } from 'node:crypto';
import {
  EMPTY_STATS,
  PRIORITY_RANK,
  OPERATIONS,
  TASK_STATUSES,
  checkRecordedMove,
  initialStatus,
  type Agent,
  type NewAgent,
  type NewTask,
  type Task,
  type TaskStatus,
} from '../../domain/index.js';
import type {
  AgentFilter,
  AgentPatch,
  ClaimRequest,
  FinishOutcome,
  Member,
  MemberAddress,
  Page,
  PoolStats,
  SecurityStore,
  Store,
  StoreContents,
  TaskEvent,
  TaskFilter,
  TaskFinish,
  TaskStart,
  TaskTransition,
} from '../store.js';
import { HubError, isOutage } from '../../errors/index.js';
import type { Dialect, Executor } from './executor.js';
import { rowToAgent, rowToEvent, rowToMember, rowToTask, toJson, CONTENTS_SQL, rowToContents } from './rows.js';
import { runMigrations, type Migration } from './migrate.js';
import { QueryTimer, TimedExecutor, type QueryStats } from './timed-executor.js';
import { SqlSecurityStore } from './security-store.js';
import { REQUEUE_SET, finishGuard, inFrom, setStatus } from './lifecycle-sql.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids come from clients: anything not a UUID cannot exist (and must not reach a uuid column). */
export function isUuid(id: string): boolean {
  return UUID.test(id);
}

export class Where {
  readonly parts: string[] = [];
  readonly params: unknown[] = [];
  add(sql: string, ...params: unknown[]): void {
    this.parts.push(sql);
    this.params.push(...params);
  }
  get sql(): string {
    return this.parts.length === 0 ? '' : ` WHERE ${this.parts.join(' AND ')}`;
  }
}

/** The Store over SQL, shared by both engines; engine differences live in the Dialect. */
export class SqlStore implements Store {
  private readonly timer = new QueryTimer();
  protected readonly db: Executor;
  readonly security: SecurityStore;

  constructor(
    driver: Executor,
    protected readonly dialect: Dialect,
    private readonly migrations: readonly Migration[],
    private readonly pool: () => PoolStats,
    private readonly closeFn: () => Promise<void>,
  ) {
    this.db = new TimedExecutor(driver, this.timer);
    this.security = new SqlSecurityStore(this.db, dialect);
  }

  writeFailure(): { since: string; error: string } | undefined {
    return this.timer.writeFailure();
  }

  queryStats(): QueryStats {
    return this.timer.read();
  }

  get engine(): 'sqlite' | 'postgres' {
    return this.dialect.engine;
  }

  migrate(): Promise<number[]> {
    return runMigrations(this.db, this.dialect, this.migrations);
  }

  async schemaVersion(): Promise<number> {
    // A fresh database has no schema_migrations table yet: version 0, not an error.
    const rows = await this.db.all('SELECT max(version) AS v FROM schema_migrations').catch((err: unknown) => {
      if (isOutage(err)) throw err;
      return [{ v: 0 }];
    });
    return Number(rows[0]?.['v'] ?? 0);
  }

  async contents(): Promise<StoreContents> {
    if ((await this.schemaVersion()) === 0) return { tasks: 0, agents: 0, users: 0, api_keys: 0 };
    const [row] = await this.db.all(CONTENTS_SQL);
    return rowToContents(row);
  }

  async ping(): Promise<number> {
    const start = performance.now();
    await this.db.all('SELECT 1 AS ok');
    return performance.now() - start;
  }

  poolStats(): PoolStats {
    return this.pool();
  }

  close(): Promise<void> {
    return this.closeFn();
  }

  async createAgent(agent: NewAgent, nodeId: string): Promise<Agent> {
    const now = new Date().toISOString();
    const rows = await this.db.all(
      `INSERT INTO agents (id, name, type, state, kind, executor, capabilities, node_id, stats, max_concurrency, owner, created_at, updated_at)
       VALUES (?, ?, ?, 'idle', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      [
        randomUUID(),
        agent.name,
        agent.type,
        agent.kind,
        agent.executor,
        toJson(agent.capabilities),
        nodeId,
        toJson(EMPTY_STATS),
        agent.max_concurrency,
        agent.owner ?? null,
        now,
        now,
      ],
    );
    return rowToAgent(this.dialect, rows[0] ?? {});
  }

  async getAgent(id: string): Promise<Agent | undefined> {
    if (!isUuid(id)) return undefined;
    const rows = await this.db.all('SELECT * FROM agents WHERE id = ?', [id]);
    return rows[0] === undefined ? undefined : rowToAgent(this.dialect, rows[0]);
  }

  async listAgents(f: AgentFilter): Promise<Page<Agent>> {
    const w = new Where();
    if (f.state !== undefined) w.add('state = ?', f.state);
    if (f.type !== undefined) w.add('type = ?', f.type);
    if (f.kind !== undefined) w.add('kind = ?', f.kind);
    if (f.nodeId !== undefined) w.add('node_id = ?', f.nodeId);
    if (f.capability !== undefined)
      w.add(this.dialect.jsonArrayHasName('capabilities'), this.dialect.jsonArrayHasNameParam(f.capability));
    return this.page('agents', w, 'created_at, id', f, (r) => rowToAgent(this.dialect, r));
  }

  async updateAgent(id: string, patch: AgentPatch): Promise<Agent | undefined> {
    if (!isUuid(id)) return undefined;
    const sets: string[] = ['updated_at = ?'];
    const params: unknown[] = [new Date().toISOString()];
    const set = (column: string, value: unknown): void => {
      sets.push(`${column} = ?`);
      params.push(value);
    };
    if (patch.name !== undefined) set('name', patch.name);
    if (patch.type !== undefined) set('type', patch.type);
    if (patch.state !== undefined) set('state', patch.state);
    if (patch.paused !== undefined) set('paused', this.dialect.bool(patch.paused));
    if (patch.max_concurrency !== undefined) set('max_concurrency', patch.max_concurrency);
    if (patch.capabilities !== undefined) set('capabilities', toJson(patch.capabilities));
    if (patch.stats !== undefined) set('stats', toJson(patch.stats));
    const rows = await this.db.all(`UPDATE agents SET ${sets.join(', ')} WHERE id = ? RETURNING *`, [...params, id]);
    return rows[0] === undefined ? undefined : rowToAgent(this.dialect, rows[0]);
  }

  async deleteAgent(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    return (await this.db.run('DELETE FROM agents WHERE id = ?', [id])) > 0;
  }

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

  private async insertTask(
    tx: Executor,
    t: NewTask,
    nodeId: string,
    claim?: { leaseMs: number },
  ): Promise<{ task: Task; created: boolean }> {
    const now = new Date().toISOString();
    const depsPending = await this.checkDependencies(tx, t.depends_on);
    const claimed = claim !== undefined && depsPending === 0;
    const rows = await tx.all(
      `INSERT INTO tasks (id, title, description, type, priority, priority_rank, status, required_capabilities, payload,
         attempts, max_attempts, timeout_ms, run_at, lease_epoch, idempotency_key, deps_pending, created_at, updated_at,
         lease_owner, lease_expires_at, claimed_at, inferred_capabilities)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ${this.dialect.idempotencyConflict} DO NOTHING RETURNING *`,
      [
        t.id ?? randomUUID(),
        t.title,
        t.description,
        t.type,
        t.priority,
        PRIORITY_RANK[t.priority],
        initialStatus(claimed),
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
        claimed ? new Date(Date.now() + (claim?.leaseMs ?? 0)).toISOString() : null,
        claimed ? now : null,
        toJson(t.inferred_capabilities ?? null),
      ],
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
  private async checkDependencies(tx: Executor, ids: readonly string[]): Promise<number> {
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

  async getTask(id: string): Promise<Task | undefined> {
    if (!isUuid(id)) return undefined;
    const rows = await this.db.all('SELECT * FROM tasks WHERE id = ?', [id]);
    return rows[0] === undefined ? undefined : rowToTask(this.dialect, rows[0]);
  }

  async listTasks(f: TaskFilter): Promise<Page<Task>> {
    const w = new Where();
    if (f.status !== undefined) w.add('status = ?', f.status);
    if (f.priority !== undefined) w.add('priority = ?', f.priority);
    if (f.agent !== undefined) w.add('assigned_agent = ?', isUuid(f.agent) ? f.agent : null);
    if (f.capability !== undefined) {
      w.add(this.dialect.jsonArrayHasName('required_capabilities'), this.dialect.jsonArrayHasNameParam(f.capability));
    }
    const order =
      f.order === 'desc'
        ? `created_at DESC, ${this.dialect.insertOrder} DESC`
        : `created_at, ${this.dialect.insertOrder}`;
    return this.page('tasks', w, order, f, (r) => rowToTask(this.dialect, r));
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
      return task;
    });
  }

  async claimTasks(req: ClaimRequest): Promise<Task[]> {
    if (req.limit <= 0 || (req.ids !== undefined && req.ids.length === 0)) return [];
    return this.db.transaction(async (tx) => {
      const now = new Date();
      const w = this.claimWhere(req, now);
      const ids = await tx.all(
        `SELECT id FROM tasks${w.sql} ORDER BY priority_rank DESC, ${this.dialect.insertOrder} LIMIT ?${this.dialect.claimLock}`,
        [...w.params, req.limit],
      );
      if (ids.length === 0) return [];
      const marks = ids.map(() => '?').join(', ');
      const rows = await tx.all(
        `UPDATE tasks SET ${setStatus('claim')}, lease_owner = ?, lease_expires_at = ?, lease_epoch = lease_epoch + 1, attempts = attempts + 1,
           claimed_at = ?, updated_at = ? WHERE id IN (${marks}) AND ${inFrom('claim')} RETURNING *`,
        [
          req.nodeId,
          new Date(now.getTime() + req.leaseMs).toISOString(),
          now.toISOString(),
          now.toISOString(),
          ...ids.map((r) => r['id']),
        ],
      );
      const order = new Map(ids.map((r, i) => [String(r['id']), i]));
      return rows
        .map((r) => rowToTask(this.dialect, r))
        .sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
    });
  }

  /** Which tasks a claim may take: pending, ready (or the ids asked for), requirements on offer. */
  protected claimWhere(req: ClaimRequest, now: Date): Where {
    const w = new Where();
    w.add(inFrom('claim'));
    if (req.ids !== undefined) w.add(`id IN (${req.ids.map(() => '?').join(', ')})`, ...req.ids);
    else w.add('deps_pending = 0 AND (run_at IS NULL OR run_at <= ?)', now.toISOString());
    if (req.offer !== undefined)
      w.add(this.dialect.capabilitiesMet('required_capabilities'), JSON.stringify(req.offer));
    return w;
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

  async finishTasks(items: readonly TaskFinish[], nodeId: string): Promise<FinishOutcome> {
    if (items.length === 0) return { applied: [], stale: [], cascaded: [] };
    return this.db.transaction(async (tx) => {
      const now = new Date().toISOString();
      const applied: FinishOutcome['applied'] = [];
      const stale: string[] = [];
      const readied: string[] = [];
      for (const it of items) {
        const retry = it.status === 'pending';
        const rows = await tx.all(
          `UPDATE tasks SET status = ?, result = ?, error = ?, assigned_agent = ?, started_at = ?, completed_at = ?,
             claimed_at = ${retry ? 'NULL' : 'claimed_at'}, run_at = ${retry ? '?' : 'run_at'}, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
           WHERE id = ? AND lease_epoch = ? AND ${finishGuard()} RETURNING has_dependants`,
          [
            it.status,
            it.status === 'completed' ? (it.resultJson ?? toJson(it.result ?? null)) : toJson(null),
            toJson(it.error ?? null),
            retry ? null : it.agentId,
            retry ? null : it.startedAt,
            it.completedAt,
            ...(retry ? [it.runAt ?? null] : []),
            now,
            it.id,
            it.epoch,
          ],
        );
        if (rows[0] === undefined) {
          stale.push(it.id);
          continue;
        }
        applied.push({ id: it.id, status: it.status });
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
      const ended = applied.filter((a) => a.status === 'failed' || a.status === 'dead').map((a) => a.id);
      const cascaded =
        ended.length === 0
          ? []
          : await this.cancelDependantsIn(tx, ended, 'a task it depends on did not complete', nodeId);
      return { applied, stale, cascaded };
    });
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
           WHERE id = ? AND lease_epoch = ? AND ${inFrom('release')} RETURNING id`,
          [runAt, new Date().toISOString(), it.id, it.epoch],
        );
        if (rows.length > 0) {
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
  private async cancelDependantsIn(
    tx: Executor,
    ids: readonly string[],
    reason: string,
    nodeId: string,
  ): Promise<Task[]> {
    const out: Task[] = [];
    const now = new Date().toISOString();
    let frontier = [...ids];
    while (frontier.length > 0) {
      const marks = frontier.map(() => '?').join(', ');
      const rows = await tx.all(
        `UPDATE tasks SET ${setStatus('cancel')}, error = ?, completed_at = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
         WHERE id IN (SELECT task_id FROM task_dependencies WHERE depends_on IN (${marks})) AND ${inFrom('cancel')}
         RETURNING *`,
        [toJson({ code: 'DEPENDENCY_FAILED', message: reason, retryable: false }), now, now, ...frontier],
      );
      const level = rows.map((r) => rowToTask(this.dialect, r));
      for (const t of level)
        await this.insertEvent(tx, t.id, null, 'cancelled', null, nodeId, {
          reason,
          depends_on: ids.length === 1 ? ids[0] : ids,
        });
      out.push(...level);
      frontier = level.map((t) => t.id);
    }
    return out;
  }

  listenForTasks(_onTasks: () => void): Promise<() => Promise<void>> {
    return Promise.resolve(() => Promise.resolve());
  }

  async listDependencies(taskId: string): Promise<string[]> {
    if (!isUuid(taskId)) return [];
    return (
      await this.db.all('SELECT depends_on FROM task_dependencies WHERE task_id = ? ORDER BY depends_on', [taskId])
    ).map((r) => String(r['depends_on']));
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

  async joinCluster(m: MemberAddress): Promise<Member> {
    const now = new Date().toISOString();
    const rows = await this.db.all(
      `INSERT INTO cluster_members (node_id, address, grpc_port, http_port, epoch, status, heartbeat_at, started_at, updated_at)
       VALUES (?, ?, ?, ?, 1, 'joining', ?, ?, ?)
       ON CONFLICT (node_id) DO UPDATE SET address = excluded.address, grpc_port = excluded.grpc_port, http_port = excluded.http_port,
         epoch = cluster_members.epoch + 1, status = 'joining', heartbeat_at = excluded.heartbeat_at, started_at = excluded.started_at, updated_at = excluded.updated_at
       RETURNING *`,
      [m.node_id, m.address, m.grpc_port, m.http_port, now, now, now],
    );
    return rowToMember(rows[0] ?? {});
  }

  async heartbeatMember(nodeId: string, epoch: number): Promise<Member | undefined> {
    const now = new Date().toISOString();
    const rows = await this.db.all(
      `UPDATE cluster_members SET heartbeat_at = ?, status = 'active', updated_at = ? WHERE node_id = ? AND epoch = ? AND status IN ('joining', 'active', 'suspect') RETURNING *`,
      [now, now, nodeId, epoch],
    );
    return rows[0] === undefined ? undefined : rowToMember(rows[0]);
  }

  async listMembers(): Promise<Member[]> {
    return (await this.db.all('SELECT * FROM cluster_members ORDER BY node_id')).map(rowToMember);
  }

  async suspectMember(nodeId: string, epoch: number): Promise<boolean> {
    const n = await this.db.run(
      `UPDATE cluster_members SET status = 'suspect', updated_at = ? WHERE node_id = ? AND epoch = ? AND status = 'active'`,
      [new Date().toISOString(), nodeId, epoch],
    );
    return n > 0;
  }

  async declareMemberDead(
    nodeId: string,
    epoch: number,
    staleBefore: string,
    byNode: string,
  ): Promise<{ released: number; agents: number } | undefined> {
    return this.db.transaction(async (tx) => {
      const now = new Date().toISOString();
      const dead = await tx.all(
        `UPDATE cluster_members SET status = 'dead', updated_at = ? WHERE node_id = ? AND epoch = ? AND status IN ('joining', 'active', 'suspect') AND heartbeat_at < ? RETURNING node_id`,
        [now, nodeId, epoch, staleBefore],
      );
      if (dead.length === 0) return undefined;
      const held = await tx.all(
        `SELECT id, status FROM tasks WHERE lease_owner = ? AND ${inFrom('requeue')}${this.dialect.rowLock}`,
        [nodeId],
      );
      await tx.run(`UPDATE tasks SET ${REQUEUE_SET}, updated_at = ? WHERE lease_owner = ? AND ${inFrom('requeue')}`, [
        now,
        nodeId,
      ]);
      for (const t of held) {
        await this.insertEvent(tx, String(t['id']), t['status'] as TaskStatus, 'pending', null, byNode, {
          reason: `node ${nodeId} was declared dead`,
          previous_owner: nodeId,
        });
      }
      const agents = await tx.run(
        `UPDATE agents SET state = 'offline', updated_at = ? WHERE node_id = ? AND state <> 'offline'`,
        [now, nodeId],
      );
      return { released: held.length, agents };
    });
  }

  async leaveCluster(nodeId: string, epoch: number): Promise<void> {
    await this.db.run(`UPDATE cluster_members SET status = 'left', updated_at = ? WHERE node_id = ? AND epoch = ?`, [
      new Date().toISOString(),
      nodeId,
      epoch,
    ]);
  }

  protected async insertEvent(
    tx: Executor,
    taskId: string,
    from: TaskStatus | null,
    to: TaskStatus,
    agentId: string | null,
    nodeId: string,
    detail: unknown,
  ): Promise<void> {
    // Every recorded move is one of the lifecycle's (src/domain/task-state.ts): a code path writing another fails here, in its transaction.
    if (from !== null) checkRecordedMove(taskId, from, to);
    await tx.run(
      'INSERT INTO task_events (task_id, from_status, to_status, agent_id, node_id, detail, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [taskId, from, to, agentId, nodeId, toJson(detail), new Date().toISOString()],
    );
  }

  private async page<T>(
    table: string,
    w: Where,
    order: string,
    p: { limit: number; offset: number },
    map: (r: Record<string, unknown>) => T,
  ): Promise<Page<T>> {
    const total = await this.db.all(`SELECT count(*) AS n FROM ${table}${w.sql}`, w.params);
    const rows = await this.db.all(`SELECT * FROM ${table}${w.sql} ORDER BY ${order} LIMIT ? OFFSET ?`, [
      ...w.params,
      p.limit,
      p.offset,
    ]);
    return { items: rows.map(map), total: Number(total[0]?.['n'] ?? 0) };
  }
}
