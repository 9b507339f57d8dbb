/**
 * Claim throughput as the table grows: the hub processes `--n` no-op tasks
 * (default 50,000) at the head of the queue with `--backlog` more queued behind
 * them (default 1,000,000, lower priority) and `--finished` ended tasks in the
 * table (default 10,000,000, completed over the last 30 days), against the same
 * `--n` tasks in an otherwise empty table. Same PostgreSQL, same run, alternating,
 * medians of `--runs`. The big table is filled once into a template database and
 * copied for each run (CREATE DATABASE … TEMPLATE), so that every run starts
 * from the same rows.
 *
 *   npx tsx bench/backlog.ts [--n 50000] [--backlog 1000000] [--finished 10000000] [--runs 3]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { hubStack } from './lib/hub-stack.js';
import type { ReplyTo } from '../src/runtime/index.js';
import type { Agent } from '../src/domain/index.js';
import type { AgentManagementMsg } from '../actors/agent-management/messages.js';
import { PG_ADMIN_URL, median } from './lib/pg.js';
import { arg, emit } from './lib/cli.js';

const n = Number(arg('n', '50000'));
const backlog = Number(arg('backlog', '1000000'));
const finished = Number(arg('finished', '10000000'));
const runs = Number(arg('runs', '3'));
const STEP = 200_000;

function dbUrl(name: string): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>, url = PG_ADMIN_URL): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Task ids as the hub makes them (UUID v7: time first, src/domain/ids.ts), for rows filled by SQL. */
const UUID7 = `CREATE OR REPLACE FUNCTION bench_uuid7(ts timestamptz) RETURNS uuid VOLATILE LANGUAGE sql AS $$
  SELECT (substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-' || substr(h, 17, 4) || '-' || substr(h, 21, 12))::uuid
  FROM (SELECT lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0') || '7' || substr(m, 1, 3)
    || to_hex(8 + floor(random() * 4)::int) || substr(m, 4, 15) AS h
    FROM (SELECT md5(random()::text || clock_timestamp()::text) AS m) r) x $$`;

/** Rows inserted by SQL (setup, not measured): `count` pending tasks of a priority. */
async function fillPending(c: pg.Client, count: number, priority: 'low' | 'medium', rank: number): Promise<void> {
  await c.query(UUID7);
  for (let done = 0; done < count; done += STEP) {
    await c.query(
      `INSERT INTO tasks (id, title, description, type, priority, priority_rank, status, required_capabilities, payload, attempts, max_attempts, timeout_ms, lease_epoch, deps_pending, created_at, updated_at)
       SELECT bench_uuid7(now()), 'backlog', '', 'noop', $1, $2, 'pending', '[]', '{}', 0, 3, 60000, 0, 0, now(), now() FROM generate_series(1, $3)`,
      [priority, rank, Math.min(STEP, count - done)],
    );
  }
}

/** `count` completed tasks spread over the last 30 days, run by four agents, each with a small result. */
async function fillFinished(c: pg.Client, count: number): Promise<void> {
  const spread = (30 * 86_400) / Math.max(1, count);
  await c.query(UUID7);
  for (let done = 0; done < count; done += STEP) {
    await c.query(
      `INSERT INTO tasks (id, title, description, type, priority, priority_rank, status, required_capabilities, payload, result, assigned_agent,
         attempts, max_attempts, timeout_ms, lease_epoch, deps_pending, created_at, updated_at, claimed_at, started_at, completed_at)
       SELECT bench_uuid7(at), 'done ' || i, '', 'noop', 'medium', 1, 'completed', '[]', jsonb_build_object('i', i), '{"ok": true}',
         ('00000000-0000-4000-8000-00000000000' || (i % 4))::uuid, 1, 3, 60000, 1, 0, at, at + interval '1 second', at, at, at + interval '1 second'
       FROM (SELECT i, now() - make_interval(secs => i * $2::float8) AS at FROM generate_series($1::bigint, $1::bigint + $3 - 1) AS i) g`,
      [done, spread, Math.min(STEP, count - done)],
    );
    if (done % 2_000_000 === 0) process.stderr.write(`  ${done} ended tasks filled\n`);
  }
}

/** A database migrated by the hub and filled with the backlog and the ended tasks; its name. */
async function template(): Promise<string> {
  const name = `hive_backlog_tpl_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const stack = await hubStack({ HIVE_DATABASE_URL: dbUrl(name), HIVE_AGENTS_DEFAULT_POOL_SIZE: '0' });
  await stack.close();
  const t0 = performance.now();
  await admin(async (c) => {
    await fillFinished(c, finished);
    await fillPending(c, backlog, 'low', 0);
    await c.query('VACUUM ANALYZE tasks');
    await c.query('CHECKPOINT');
  }, dbUrl(name));
  process.stderr.write(`template ${name} filled in ${Math.round((performance.now() - t0) / 1000)} s\n`);
  return name;
}

async function processRate(from: string | undefined): Promise<number> {
  const name = `hive_backlog_${randomBytes(4).toString('hex')}`;
  await admin(async (c) => {
    if (from === undefined) return c.query(`CREATE DATABASE ${name}`);
    // A copy needs the template to itself: connections of the filling stack may linger a moment.
    await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [from]);
    // FILE_COPY: the files are copied, not logged block by block through the WAL (gigabytes of it).
    return c.query(`CREATE DATABASE ${name} TEMPLATE ${from} STRATEGY = FILE_COPY`);
  });
  // The copy leaves gigabytes of dirty pages in the page cache: written back now, not during the timed part.
  if (from !== undefined) execFileSync('sync');
  // Agents start only after the fill, so the timed part is claiming and running the n head tasks.
  const stack = await hubStack({
    HIVE_DATABASE_URL: dbUrl(name),
    HIVE_AGENTS_DEFAULT_POOL_SIZE: '0',
    HIVE_AGENTS_POOL_MAX_CONCURRENCY: '64',
    HIVE_TASKS_CLAIM_BATCH: '1000',
    HIVE_TASKS_MAX_PENDING: '100000000',
    HIVE_TASKS_RETENTION_DAYS: '0',
    // The backlog was filled minutes before the timed part: aging would raise it over the head tasks, and this
    // measures claims against the table's size, not the aging policy (whose passes are bounded: ageTasks).
    HIVE_FLOW_AGING_MS: '0',
  });
  try {
    await admin(async (c) => {
      await fillPending(c, n, 'medium', 1);
      await c.query('ANALYZE tasks');
      await c.query('CHECKPOINT');
    }, dbUrl(name));
    let done = 0;
    let resolve!: () => void;
    const all = new Promise<void>((r) => (resolve = r));
    stack.events.subscribe((e) => {
      if (e.type === 'task.completed' && ++done === n) resolve();
    });
    const t0 = performance.now();
    const { hive } = stack;
    await hive.ask(hive.modules.agent_management, (replyTo: ReplyTo<Agent[]>): AgentManagementMsg => ({
      type: 'agent.ensure_pool',
      size: 4,
      replyTo,
    }));
    await all;
    return Math.round(n / ((performance.now() - t0) / 1000));
  } finally {
    await stack.close();
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  }
}

const tpl = await template();
const empty: number[] = [];
const loaded: number[] = [];
try {
  for (let r = 0; r < runs; r++) {
    if (r % 2 === 0) {
      empty.push(await processRate(undefined));
      loaded.push(await processRate(tpl));
    } else {
      loaded.push(await processRate(tpl));
      empty.push(await processRate(undefined));
    }
    process.stderr.write(`run ${r + 1}/${runs}: empty ${empty[r]} tasks/s, with the big table ${loaded[r]} tasks/s\n`);
  }
} finally {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${tpl} WITH (FORCE)`));
}
const e = median(empty);
const l = median(loaded);
emit('backlog', {
  n,
  backlog,
  finished,
  runs,
  tasks_per_s_empty_table: empty,
  tasks_per_s_with_backlog: loaded,
  median_empty: e,
  median_with_backlog: l,
  ratio: Math.round((l / e) * 100) / 100,
  target_ratio: 0.8,
});
process.exit(0);
