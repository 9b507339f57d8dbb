/** The SQL store's base layer (sql-store.ts composes the layers; engine differences live in the Dialect). */
import { checkRecordedMove, type TaskStatus } from '../../domain/index.js';
import type { Page, PoolStats, SecurityStore, StoreContents } from '../store.js';
import { isOutage } from '../../errors/index.js';
import type { Dialect, Executor } from './executor.js';
import { toJson, CONTENTS_SQL, rowToContents } from './rows.js';
import { runMigrations, type Migration } from './migrate.js';
import { QueryTimer, TimedExecutor, type QueryStats } from './timed-executor.js';
import { SqlSecurityStore } from './security-store.js';

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

/** What every layer of the SQL store shares: the executor, the dialect, administration, events and paging. */
export class SqlBase {
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

  /** Several recorded moves in one statement per 500 (a wake pass of many timers). */
  protected async insertEvents(
    tx: Executor,
    events: ReadonlyArray<{ taskId: string; from: TaskStatus; to: TaskStatus; detail: unknown }>,
    nodeId: string,
  ): Promise<void> {
    const at = new Date().toISOString();
    for (let i = 0; i < events.length; i += 500) {
      const part = events.slice(i, i + 500);
      for (const e of part) checkRecordedMove(e.taskId, e.from, e.to);
      await tx.run(
        `INSERT INTO task_events (task_id, from_status, to_status, agent_id, node_id, detail, created_at) VALUES ${part
          .map(() => '(?, ?, ?, NULL, ?, ?, ?)')
          .join(', ')}`,
        part.flatMap((e) => [e.taskId, e.from, e.to, nodeId, toJson(e.detail), at]),
      );
    }
  }

  /** The `n` of a `SELECT count(*) AS n …` statement. */
  protected async count(sql: string, params: readonly unknown[] = []): Promise<number> {
    const [row] = await this.db.all(sql, params);
    return Number(row?.['n'] ?? 0);
  }

  protected async page<T>(
    table: string,
    w: Where,
    order: string,
    p: { limit: number; offset: number },
    map: (r: Record<string, unknown>) => T,
  ): Promise<Page<T>> {
    const total = await this.count(`SELECT count(*) AS n FROM ${table}${w.sql}`, w.params);
    const rows = await this.db.all(`SELECT * FROM ${table}${w.sql} ORDER BY ${order} LIMIT ? OFFSET ?`, [
      ...w.params,
      p.limit,
      p.offset,
    ]);
    return { items: rows.map(map), total };
  }
}
