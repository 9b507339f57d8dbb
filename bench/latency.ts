/**
 * Submit→start latency at a steady rate (default 1,000 tasks/s) on PostgreSQL:
 * each task is submitted to task_management (stored durably before the reply) and
 * the time until its handler starts is recorded. With an idle capable agent the
 * task is handed over in the transaction that stores it.
 *
 *   npx tsx bench/latency.ts [--rate 1000] [--seconds 5] [--runs 3]
 */
import type { ReplyTo } from '../src/runtime/index.js';
import type { Submitted, TaskManagementMsg } from '../actors/task-distributor/messages.js';
import type { Handler } from '../src/engine/handler.js';
import { hubStack } from './lib/hub-stack.js';
import { benchDatabase, median, percentile } from './lib/pg.js';
import { noopTask } from './lib/systems.js';
import { arg, emit } from './lib/cli.js';

const rate = Number(arg('rate', '1000'));
const seconds = Number(arg('seconds', '5'));
const runs = Number(arg('runs', '3'));

async function once(): Promise<{ p50: number; p99: number; max: number; n: number; achieved_rate: number }> {
  const db = await benchDatabase();
  const submittedAt = new Map<string, number>();
  const latencies: number[] = [];
  const stamp: Handler = (task) => {
    const t0 = submittedAt.get((task.payload as { k: string }).k);
    if (t0 !== undefined) latencies.push(performance.now() - t0);
    return null;
  };
  const stack = await hubStack(
    {
      HIVE_DATABASE_URL: db.url,
      HIVE_AGENTS_DEFAULT_POOL_SIZE: '4',
      HIVE_AGENTS_DEFAULT_EXECUTOR: 'stamp',
      HIVE_AGENTS_POOL_MAX_CONCURRENCY: '8',
    },
    { stamp },
  );
  try {
    const total = rate * seconds;
    const start = performance.now();
    const pending: Array<Promise<unknown>> = [];
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const k = `k${i}`;
      const task = { ...noopTask(i), payload: { k } };
      submittedAt.set(k, performance.now());
      pending.push(
        stack.hive.ask(
          stack.hive.modules.task_management,
          (replyTo: ReplyTo<Submitted>): TaskManagementMsg => ({ type: 'task.submit', task, replyTo }),
          30_000,
        ),
      );
    }
    await Promise.all(pending);
    const elapsed = (performance.now() - start) / 1000;
    while (latencies.length < total) await new Promise((r) => setTimeout(r, 10));
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      n: sorted.length,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? 0,
      achieved_rate: Math.round(total / elapsed),
    };
  } finally {
    await stack.close();
    await db.drop();
  }
}

const results = [];
for (let r = 0; r < runs; r++) {
  const res = await once();
  results.push(res);
  process.stderr.write(
    `run ${r + 1}/${runs}: p50 ${res.p50.toFixed(2)} ms, p99 ${res.p99.toFixed(2)} ms at ${res.achieved_rate}/s\n`,
  );
}
const round = (n: number): number => Math.round(n * 100) / 100;
emit('latency', {
  engine: 'postgres',
  rate,
  seconds,
  runs,
  submit_to_start_ms: {
    p50_median: round(median(results.map((r) => r.p50))),
    p99_median: round(median(results.map((r) => r.p99))),
    max: round(Math.max(...results.map((r) => r.max))),
  },
  per_run: results.map((r) => ({ ...r, p50: round(r.p50), p99: round(r.p99), max: round(r.max) })),
  targets_ms: { p50: 1, p99: 5 },
});
process.exit(0);
