import type { Pool, PoolClient } from 'pg';
import type { Executor, Row } from '../sql/executor.js';
import { toStoreError } from '../sql/errors.js';
import { encodeArrays } from './pg-array.js';

const converted = new Map<string, string>();

/** Rewrites `?` placeholders to $1, $2… (outside quoted strings). */
export function toPgPlaceholders(sql: string): string {
  let out = converted.get(sql);
  if (out !== undefined) return out;
  let n = 0;
  let quoted = false;
  out = '';
  for (const ch of sql) {
    if (ch === "'") quoted = !quoted;
    out += ch === '?' && !quoted ? `$${++n}` : ch;
  }
  converted.set(sql, out);
  return out;
}

type Queryable = Pool | PoolClient;

async function query(
  q: Queryable,
  sql: string,
  params: readonly unknown[],
): Promise<{ rows: Row[]; rowCount: number | null }> {
  try {
    return await q.query<Row>(toPgPlaceholders(sql), encodeArrays(params) as unknown[]);
  } catch (err) {
    throw toStoreError(err);
  }
}

class ClientExecutor implements Executor {
  constructor(private readonly q: Queryable) {}
  async all(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    return (await query(this.q, sql, params)).rows;
  }
  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return (await query(this.q, sql, params)).rowCount ?? 0;
  }
  async exec(sql: string): Promise<void> {
    try {
      await this.q.query(sql);
    } catch (err) {
      throw toStoreError(err);
    }
  }
  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return fn(this); // nested: already in a transaction on this client
  }
}

/** Statements on the pool; transactions on one checked-out client. */
export class PostgresExecutor extends ClientExecutor {
  constructor(private readonly pool: Pool) {
    super(pool);
  }

  /**
   * Runs fn in a transaction. A deadlock or serialization failure (PostgreSQL
   * aborts one of the transactions involved) is retried a few times: every
   * transaction of the store can run again from the start.
   */
  override async transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(fn);
      } catch (err) {
        const code = (err as { cause?: { code?: unknown } }).cause?.code;
        if ((code !== '40P01' && code !== '40001') || attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
      }
    }
  }

  private async once<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw toStoreError(err);
    }
    // A checked-out client has no pool listener: a connection that dies mid-transaction
    // (server restart, pg_terminate_backend) would otherwise be an uncaught 'error' event.
    // The query in flight rejects on its own; the client is discarded at release.
    let broken: Error | undefined;
    const onError = (err: Error): void => void (broken = err);
    client.on('error', onError);
    const release = (err?: Error | true): void => {
      client.removeListener('error', onError);
      client.release(err ?? broken);
    };
    try {
      await client.query('BEGIN');
      const value = await fn(new ClientExecutor(client));
      await client.query('COMMIT');
      release();
      return value;
    } catch (err) {
      await client.query('ROLLBACK').then(
        () => release(),
        (rollbackErr: unknown) => release(rollbackErr instanceof Error ? rollbackErr : true),
      );
      throw toStoreError(err);
    }
  }
}
