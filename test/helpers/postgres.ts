import pg from 'pg';
import { randomBytes } from 'node:crypto';

/** Admin connection for creating per-file test databases. */
export const PG_ADMIN_URL = process.env['HUB_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let availability: Promise<string | undefined> | undefined;

/** Undefined when PostgreSQL answers; otherwise why not. */
export function postgresUnavailableReason(): Promise<string | undefined> {
  availability ??= (async () => {
    const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return undefined;
    } catch (err) {
      return `PostgreSQL at ${PG_ADMIN_URL} is unreachable (${(err as Error).message})`;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return availability;
}

const printed = new Set<string>();

/**
 * Call in a `before` of a PostgreSQL suite: in CI a missing PostgreSQL fails the
 * suite; elsewhere the suite is skipped with one printed line saying why.
 */
export async function requirePostgres(ctx: Mocha.Context): Promise<void> {
  const reason = await postgresUnavailableReason();
  if (reason === undefined) return;
  if (process.env['CI'] === 'true') throw new Error(`${reason}; CI must provide PostgreSQL`);
  if (!printed.has(reason)) {
    printed.add(reason);
    console.log(`skipping PostgreSQL tests: ${reason}`);
  }
  ctx.skip();
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** Creates a fresh empty database for one test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `hive_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
