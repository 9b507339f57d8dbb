import pg from 'pg';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../log/logger.js';
import type { SqlStore } from '../sql/sql-store.js';
import { PostgresBatchStore } from './postgres-batch-store.js';
import { loadMigrations } from '../sql/migrate.js';
import type { Dialect } from '../sql/executor.js';
import { PostgresExecutor } from './postgres-executor.js';

export const postgresDialect: Dialect = {
  engine: 'postgres',
  decodesJson: true,
  claimLock: ' FOR UPDATE SKIP LOCKED',
  rowLock: ' FOR UPDATE',
  insertOrder: 'seq',
  // Containment uses the GIN index idx_*_capabilities.
  jsonArrayHasName: (column) => `${column} @> ?::jsonb`,
  jsonArrayHasNameParam: (name) => JSON.stringify([{ name }]),
  capabilitiesMet: (column) =>
    `NOT EXISTS (SELECT 1 FROM jsonb_array_elements(${column}) r WHERE COALESCE((?::jsonb ->> (r.value ->> 'name'))::float8, -1) < (r.value ->> 'min_proficiency')::float8)`,
  idempotencyConflict: 'ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL',
  bool: (v) => v,
  migrationLock: 'SELECT pg_advisory_xact_lock(7274731)',
  keysHeld: (holding) =>
    `SELECT k.value AS key, count(*) AS n FROM tasks t CROSS JOIN LATERAL jsonb_array_elements_text(t.concurrency_keys) k
     WHERE t.${holding} AND t.concurrency_keys IS NOT NULL GROUP BY k.value`,
  noKeyIn: (column) => `(${column} IS NULL OR NOT jsonb_exists_any(${column}, ?::text[]))`,
  keysParam: (keys) => keys,
  idIn: (column) => `${column} = ANY(?::uuid[])`,
  idsParam: (ids) => ids,
  flowLock: 'SELECT pg_advisory_xact_lock(7274732)',
  jsonText: (column, field) => `(${column} ->> '${field}')`,
};

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

const TIMESTAMPTZ = 1184;

/** '2026-11-30 16:02:18.1+00' (a UTC session's timestamptz text) → '2026-11-30T16:02:18.100Z'. */
export function isoFromPg(text: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d+))?\+00$/.exec(text);
  if (m === null) return new Date(text).toISOString();
  return `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(3, '0').slice(0, 3)}Z`;
}

function typeParser(oid: number): (text: string) => unknown {
  if (oid === TIMESTAMPTZ) return isoFromPg;
  return pg.types.getTypeParser(oid, 'text') as (text: string) => unknown;
}

export interface PostgresOptions {
  url: string;
  maxConnections: number;
  minConnections: number;
  connectionTimeoutMs: number;
  idleTimeoutMs: number;
  log: Logger;
}

/** Opens the PostgreSQL store with a pool sized from [database]. */
export function openPostgresStore(o: PostgresOptions): SqlStore {
  const pool = new pg.Pool({
    connectionString: o.url,
    // Sessions in UTC, timestamps kept as ISO 8601 text (as the store hands them out) instead of Date objects.
    options: '-c TimeZone=UTC',
    types: { getTypeParser: typeParser as typeof pg.types.getTypeParser },
    max: o.maxConnections,
    min: o.minConnections,
    connectionTimeoutMillis: o.connectionTimeoutMs,
    idleTimeoutMillis: o.idleTimeoutMs,
    application_name: 'ai-orchestrator-hub',
  });
  // An idle client's connection dropped: pg emits on the pool; unhandled it would crash the process.
  // Logged without the client object (large, and it holds connection parameters): the pool replaces the connection.
  pool.on('error', (err) =>
    o.log.warn(
      { module: 'storage', code: (err as { code?: unknown }).code },
      `idle PostgreSQL connection dropped: ${err.message}`,
    ),
  );
  const store = new PostgresBatchStore(
    new PostgresExecutor(pool),
    postgresDialect,
    loadMigrations(MIGRATIONS_DIR),
    () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    () => pool.end(),
  );
  store.listenConnection = () =>
    new pg.Client({ connectionString: o.url, application_name: 'ai-orchestrator-hub-listen' });
  return store;
}
