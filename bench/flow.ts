/**
 * Flow control's figures, on PostgreSQL, the hub in-process (4 echo agents x 64):
 *
 * 1. The cost of the checks: N no-op tasks without flow fields ("off") and, in the
 *    same run (alternated), with 16 concurrency keys under a limit that never binds
 *    ("keys"), with a token budget that never binds ("budget"), and spread over 3
 *    tenants ("tenants"). Medians of tasks/s and their ratios to "off".
 * 2. Fair share: tenant A submits a flood of F tasks, then B and C submit 200 each
 *    (weights 1:1:1); dispatch (claim) waits of B and C, p50/p99, against A's, and
 *    each tenant's share of the dispatches while all three had work. Once with A on
 *    one key, once spread over 1,000 keys, and once without fairness keys (plain
 *    priority order, the baseline B and C would get without fair share).
 * 3. Rate accuracy: a key limited to 50/s, 650 tasks; the dispatch rate measured
 *    over 10 s after the first second.
 *
 *   npx tsx bench/flow.ts [--n 20000] [--runs 3] [--flood 20000] [--parts cost,fair,rate]
 */
import pg from 'pg';
import { EMPTY_POLICY, type FlowPolicy, type NewTask } from '../src/domain/index.js';
import type { ReplyTo } from '../src/runtime/index.js';
import type { Submitted, TaskManagementMsg } from '../actors/task-distributor/messages.js';
import { arg, emit } from './lib/cli.js';
import { benchDatabase, median } from './lib/pg.js';
import { hubStack, type HubStack } from './lib/hub-stack.js';
import { noopTask, runHub, type HubRunOptions } from './lib/systems.js';

const n = Number(arg('n', '20000'));
const runs = Number(arg('runs', '3'));
const flood = Number(arg('flood', '20000'));
const HUB_ENV = {
  HIVE_AGENTS_DEFAULT_POOL_SIZE: '4',
  HIVE_AGENTS_POOL_MAX_CONCURRENCY: '64',
  HIVE_TASKS_MAX_PENDING: '100000000',
  HIVE_TASKS_CLAIM_BATCH: '1000',
};

const policy = (over: Partial<FlowPolicy>): FlowPolicy => ({ ...EMPTY_POLICY, ...over });
const with_ = (over: Partial<NewTask>) => (i: number) => ({ ...noopTask(i), ...over });
/** Fair share needs a backlog: 64 slots of 10 ms tasks (6,400/s) make the agents the bottleneck. */
const BUSY_AGENTS = {
  HIVE_AGENTS_DEFAULT_EXECUTOR: 'sleep',
  HIVE_AGENTS_POOL_MAX_CONCURRENCY: '16',
};
const BUSY = { payload: { ms: 10 } };

// ------------------------------------------------------------------ 1. cost of the checks
const parts = arg('parts', 'cost,fair,rate').split(',');
const modes: Record<string, HubRunOptions> = {
  off: {},
  keys: {
    task: (i) => ({ ...noopTask(i), concurrency_keys: [`k:${i % 16}`] }),
    flow: policy({ concurrency: { 'k:*': { limit: 1_000_000 } } }),
  },
  budget: {
    task: (i) => ({ ...noopTask(i), concurrency_keys: ['llm'], cost: { tokens: 1 } }),
    flow: policy({ budget: { llm: { unit: 'tokens', per_minute: 1e12, per_day: 0 } } }),
  },
  tenants: { task: (i) => ({ ...noopTask(i), fairness_key: `t${i % 3}` }) },
};
const samples: Record<string, number[]> = {};
for (let r = 0; r < (parts.includes('cost') ? runs : 0); r++) {
  const names = Object.keys(modes);
  for (const name of names.slice(r % names.length).concat(names.slice(0, r % names.length))) {
    const res = await runHub(n, { HIVE_NEURAL_ENABLED: 'false' }, modes[name]);
    (samples[name] ??= []).push(res.tasks_per_s);
    process.stderr.write(`cost run ${r + 1}/${runs} ${name}: ${res.tasks_per_s} tasks/s\n`);
  }
}
const medians = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
const ratio = (k: string): number => Math.round(((medians[k] ?? 0) / (medians['off'] ?? 1)) * 100) / 100;
/** The median of each round's ratio (a round runs every mode back to back, so a noisy spell hits them alike). */
const roundRatio = (k: string): number =>
  Math.round(median((samples[k] ?? []).map((v, i) => v / (samples['off']?.[i] ?? v))) * 100) / 100;

// ------------------------------------------------------------------ shared helpers
async function withHub<T>(
  flow: FlowPolicy,
  fn: (stack: HubStack, sql: pg.Pool) => Promise<T>,
  env: Record<string, string> = {},
): Promise<T> {
  const db = await benchDatabase('hive_flow_bench');
  const stack = await hubStack({ ...HUB_ENV, HIVE_DATABASE_URL: db.url, HIVE_NEURAL_ENABLED: 'false', ...env });
  stack.store.configureFlow(flow);
  const sql = new pg.Pool({ connectionString: db.url, max: 2 });
  try {
    return await fn(stack, sql);
  } finally {
    await sql.end();
    await stack.close();
    await db.drop();
  }
}

async function submit(stack: HubStack, tasks: NewTask[]): Promise<void> {
  for (let i = 0; i < tasks.length; i += 1000)
    await stack.hive.ask(
      stack.hive.modules.task_management,
      (replyTo: ReplyTo<Submitted[]>): TaskManagementMsg => ({
        type: 'task.submit_bulk',
        tasks: tasks.slice(i, i + 1000),
        replyTo,
      }),
      120_000,
    );
}

async function drained(stack: HubStack, total: number): Promise<void> {
  for (;;) {
    const c = await stack.store.countTasksByStatus();
    if (c.completed >= total) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const waits = (xs: ReadonlyArray<{ wait: number }>): { p50: number; p99: number } => ({
  p50: pct(
    xs.map((r) => r.wait),
    50,
  ),
  p99: pct(
    xs.map((r) => r.wait),
    99,
  ),
});

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0);
};

// ------------------------------------------------------------------ 2. fair share
async function fairness(scenario: 'one-key' | 'split-1000-keys' | 'no-fairness'): Promise<Record<string, unknown>> {
  return withHub(
    EMPTY_POLICY,
    async (stack, sql) => {
      const tenant = (t: string): Partial<NewTask> => (scenario === 'no-fairness' ? {} : { fairness_key: t });
      await submit(
        stack,
        Array.from({ length: flood }, (_, i) =>
          with_({
            ...BUSY,
            ...tenant('a'),
            title: `a${i}`,
            concurrency_keys: scenario === 'split-1000-keys' ? [`a:${i % 1000}`] : [],
          })(i),
        ),
      );
      await submit(
        stack,
        Array.from({ length: 200 }, (_, i) => with_({ ...BUSY, ...tenant('b'), title: `b${i}` })(i)),
      );
      await submit(
        stack,
        Array.from({ length: 200 }, (_, i) => with_({ ...BUSY, ...tenant('c'), title: `c${i}` })(i)),
      );
      await drained(stack, flood + 400);
      const rows = (
        await sql.query<{ who: string; wait: number; claimed: number }>(
          `SELECT left(title, 1) AS who, extract(epoch FROM claimed_at - created_at) * 1000 AS wait,
                extract(epoch FROM claimed_at) * 1000 AS claimed FROM tasks`,
        )
      ).rows.map((r) => ({ who: r.who, wait: Number(r.wait), claimed: Number(r.claimed) }));
      const of = (w: string) => rows.filter((r) => r.who === w);
      const [b, c] = [of('b'), of('c')];
      const first = (xs: typeof rows): number => Math.min(...xs.map((r) => r.claimed));
      const last = (xs: typeof rows): number => Math.max(...xs.map((r) => r.claimed));
      const bcEnd = Math.max(last(b), last(c));
      // While all three had work: from the later of B's and C's first dispatch to the earlier of their last.
      const [from, to] = [Math.max(first(b), first(c)), Math.min(last(b), last(c))];
      const during = rows.filter((r) => r.claimed >= from && r.claimed <= to);
      const share = (w: string): number =>
        Math.round((during.filter((r) => r.who === w).length / Math.max(1, during.length)) * 1000) / 1000;
      return {
        scenario,
        wait_ms: { a: waits(of('a')), b: waits(b), c: waits(c) },
        share_while_all_wait: { a: share('a'), b: share('b'), c: share('c') },
        a_dispatched_before_b_c_done: of('a').filter((r) => r.claimed <= bcEnd).length,
      };
    },
    BUSY_AGENTS,
  );
}
const fair = [];
for (const s of parts.includes('fair') ? (['one-key', 'split-1000-keys', 'no-fairness'] as const) : []) {
  fair.push(await fairness(s));
  process.stderr.write(`fairness ${s}: ${JSON.stringify(fair[fair.length - 1])}\n`);
}

// ------------------------------------------------------------------ 3. rate accuracy
const rates: number[] = [];
for (let r = 0; r < (parts.includes('rate') ? runs : 0); r++) {
  const measured = await withHub(
    policy({ rate: { rated: { limit: 50, window_ms: 1000, burst: 5 } } }),
    async (stack, sql) => {
      await submit(
        stack,
        Array.from({ length: 650 }, (_, i) => with_({ title: `r${i}`, concurrency_keys: ['rated'] })(i)),
      );
      await drained(stack, 650);
      const starts = (
        await sql.query<{ at: number }>('SELECT extract(epoch FROM claimed_at) * 1000 AS at FROM tasks ORDER BY 1')
      ).rows.map((x) => Number(x.at));
      const t0 = (starts[0] ?? 0) + 1000;
      return starts.filter((s) => s >= t0 && s < t0 + 10_000).length / 10;
    },
  );
  rates.push(measured);
  process.stderr.write(`rate run ${r + 1}/${runs}: ${measured}/s (limit 50/s)\n`);
}

emit('flow', {
  n,
  runs,
  cost: {
    tasks_per_s_median: medians,
    tasks_per_s_runs: samples,
    ratio_to_off: { keys: ratio('keys'), budget: ratio('budget'), tenants: ratio('tenants') },
    median_round_ratio_to_off: {
      keys: roundRatio('keys'),
      budget: roundRatio('budget'),
      tenants: roundRatio('tenants'),
    },
    target_ratio: 0.9,
  },
  fairness: { flood, light_tenants: 200, weights: '1:1:1', scenarios: fair },
  rate: { limit_per_s: 50, measured_per_s: rates, median: median(rates) },
});
process.exit(0);
