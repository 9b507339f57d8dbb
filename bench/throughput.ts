/**
 * Throughput: N no-op tasks (default 50,000) submitted in bulk and run, on the
 * hub and, in the same run and on the same PostgreSQL, on graphile-worker 0.17,
 * pg-boss 12 and BullMQ (Redis). Runs each system `runs` times, rotating the
 * order, and compares medians.
 *
 *   npx tsx bench/throughput.ts [--n 50000] [--runs 3] [--only hub,hub-no-neural,pgboss,graphile,bullmq]
 */
import { median } from './lib/pg.js';
import { runBullmq, runGraphile, runHub, runPgBoss, type RunResult } from './lib/systems.js';
import { arg, emit } from './lib/cli.js';

const n = Number(arg('n', '50000'));
const runs = Number(arg('runs', '3'));
const systems: Record<string, (n: number) => Promise<RunResult>> = {
  hub: runHub,
  // The hub without the neural processor: no capability inference at submission, placement by declared capabilities.
  'hub-no-neural': (count) => runHub(count, { HIVE_NEURAL_ENABLED: 'false' }),
  'hub-no-fit': (count) => runHub(count, { HIVE_NEURAL_FIT_PLACEMENT: 'false' }),
  'hub-no-infer': (count) => runHub(count, { HIVE_NEURAL_INFER_CAPABILITIES: 'false' }),
  graphile: runGraphile,
  pgboss: runPgBoss,
  bullmq: runBullmq,
};
const only = arg('only', 'hub,graphile,pgboss,bullmq').split(',');

const samples: Record<string, RunResult[]> = {};
for (let r = 0; r < runs; r++) {
  const order = only.slice(r % only.length).concat(only.slice(0, r % only.length));
  for (const name of order) {
    const fn = systems[name];
    if (fn === undefined) throw new Error(`unknown system ${name}`);
    const res = await fn(n);
    (samples[name] ??= []).push(res);
    process.stderr.write(
      `run ${r + 1}/${runs} ${name}: ${res.tasks_per_s} tasks/s, CPU/task node ${res.node_us_per_task} µs server ${res.server_us_per_task} µs\n`,
    );
  }
}
const medians = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v.map((x) => x.tasks_per_s))]));
const hub = medians['hub'] ?? 0;
const peers = Object.entries(medians).filter(([k]) => !k.startsWith('hub'));
const best = peers.reduce((b, [k, v]) => (v > b[1] ? [k, v] : b), ['none', 0] as [string, number]);
emit('throughput', {
  n,
  runs,
  tasks_per_s_median: medians,
  tasks_per_s_runs: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.map((x) => x.tasks_per_s)])),
  // Where each system's time went: CPU microseconds per task in this process and in its server (medians).
  cpu_us_per_task_median: Object.fromEntries(
    Object.entries(samples).map(([k, v]) => [
      k,
      {
        node: median(v.map((x) => x.node_us_per_task ?? 0)),
        server: median(v.map((x) => x.server_us_per_task ?? 0)),
      },
    ]),
  ),
  hub_ratio_to: Object.fromEntries(peers.map(([k, v]) => [k, Math.round((hub / v) * 100) / 100])),
  best_peer: best[0],
  hub_ratio_to_best_peer: best[1] === 0 ? null : Math.round((hub / best[1]) * 100) / 100,
  target_ratio: 1.5,
});
process.exit(0);
