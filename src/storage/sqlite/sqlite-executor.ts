import type { Database, Statement } from 'better-sqlite3';
import type { Executor, Row } from '../sql/executor.js';
import { toStoreError } from '../sql/errors.js';

function bind(params: readonly unknown[]): unknown[] {
  return params.map((p) => (p === undefined ? null : typeof p === 'boolean' ? (p ? 1 : 0) : p));
}

/** Statements on one better-sqlite3 connection, without locking (used inside a held lock). */
class DirectExecutor implements Executor {
  private readonly statements = new Map<string, Statement>();
  constructor(private readonly db: Database) {}

  private prepare(sql: string): Statement {
    let stmt = this.statements.get(sql);
    if (stmt === undefined) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  all(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    try {
      const stmt = this.prepare(sql);
      if (!stmt.reader) {
        stmt.run(...bind(params));
        return Promise.resolve([]);
      }
      return Promise.resolve(stmt.all(...bind(params)) as Row[]);
    } catch (err) {
      return Promise.reject(toStoreError(err));
    }
  }

  run(sql: string, params: readonly unknown[] = []): Promise<number> {
    try {
      return Promise.resolve(this.prepare(sql).run(...bind(params)).changes);
    } catch (err) {
      return Promise.reject(toStoreError(err));
    }
  }

  exec(sql: string): Promise<void> {
    try {
      this.db.exec(sql);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(toStoreError(err));
    }
  }

  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return fn(this); // already inside the outer transaction
  }
}

/**
 * better-sqlite3 is synchronous and has one connection, while our Store is async:
 * a transaction spans awaits, so every statement and transaction takes one lock
 * in turn. Nothing else can slip into an open transaction.
 */
export class SqliteExecutor implements Executor {
  private tail: Promise<unknown> = Promise.resolve();
  private waitingCount = 0;
  private readonly direct: DirectExecutor;

  constructor(private readonly db: Database) {
    this.direct = new DirectExecutor(db);
  }

  get waiting(): number {
    return this.waitingCount;
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    this.waitingCount++;
    const result = this.tail.then(() => {
      this.waitingCount--;
      return fn();
    });
    this.tail = result.catch(() => undefined); // the caller gets the error; the chain goes on
    return result;
  }

  all(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    return this.locked(() => this.direct.all(sql, params));
  }

  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.locked(() => this.direct.run(sql, params));
  }

  exec(sql: string): Promise<void> {
    return this.locked(() => this.direct.exec(sql));
  }

  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return this.locked(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const value = await fn(this.direct);
        this.db.exec('COMMIT');
        return value;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw toStoreError(err);
      }
    });
  }
}
