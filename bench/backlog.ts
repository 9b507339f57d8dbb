/**
 * Claim throughput with a large backlog: the hub processes `--n` no-op tasks
 * (default 50,000) at the head of the queue with `--backlog` more queued behind
 * them (default 1,000,000, lower priority), against the same `--n` tasks in an
 * otherwise empty table. Same PostgreSQL, same run, medians of `--runs`.
 *
 *   npx tsx bench/backlog.ts [--n 50000] [--backlog 1000000] [--runs 3]
 */
import pg from 'pg';
import { hubStack } from './lib/hub-stack.js';
import type { ReplyTo } from '../src/runtime/index.js';
import type { Agent } from '../src/domain/index.js';
import type { AgentManagementMsg } from '../actors/agent-management/messages.js';
import { benchDatabase, median } from './lib/pg.js';
import { arg, emit } from './lib/cli.js';

const n = Number(arg('n', '50000'));
const backlog = Number(arg('backlog', '1000000'));
const runs = Number(arg('runs', '3'));

/** Rows inserted by SQL (setup, not measured): `count` tasks of a priority. */
async function fill(url: string, count: number, priority: 'low' | 'medium', rank: number): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  for (let done = 0; done < count; done += 100_000) {
    await c.query(
      `INSERT INTO tasks (id, title, description, type, priority, priority_rank, status, required_capabilities, payload, attempts, max_attempts, timeout_ms, lease_epoch, deps_pending, created_at, updated_at)
       SELECT gen_random_uuid(), 'backlog', '', 'noop', $1, $2, 'pending', '[]', '{}', 0, 3, 60000, 0, 0, now(), now() FROM generate_series(1, $3)`,
      [priority, rank, Math.min(100_000, count - done)],
    );
  }
  await c.query('VACUUM ANALYZE tasks');
  // The fill writes a lot of WAL: take the checkpoint now, not during the timed part.
  await c.query('CHECKPOINT');
  await c.end();
}

async function processRate(withBacklog: boolean): Promise<number> {
  const db = await benchDatabase('hive_backlog');
  // Agents start only after the fill, so the timed part is claiming and running the n head tasks.
  const stack = await hubStack({
    HIVE_DATABASE_URL: db.url,
    HIVE_AGENTS_DEFAULT_POOL_SIZE: '0',
    HIVE_AGENTS_POOL_MAX_CONCURRENCY: '64',
    HIVE_TASKS_CLAIM_BATCH: '1000',
    HIVE_TASKS_MAX_PENDING: '100000000',
  });
  try {
    if (withBacklog) await fill(db.url, backlog, 'low', 0);
    await fill(db.url, n, 'medium', 1);
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
    await db.drop();
  }
}

const empty: number[] = [];
const loaded: number[] = [];
for (let r = 0; r < runs; r++) {
  empty.push(await processRate(false));
  loaded.push(await processRate(true));
  process.stderr.write(`run ${r + 1}/${runs}: empty ${empty[r]} tasks/s, with backlog ${loaded[r]} tasks/s\n`);
}
const e = median(empty);
const l = median(loaded);
emit('backlog', {
  n,
  backlog,
  runs,
  tasks_per_s_empty_table: empty,
  tasks_per_s_with_backlog: loaded,
  median_empty: e,
  median_with_backlog: l,
  ratio: Math.round((l / e) * 100) / 100,
  target_ratio: 0.8,
});
process.exit(0);
