/**
 * What an idle hub costs: a hub process on the embedded store (SQLite) with two echo
 * agents and no work, measured from /proc after a warm-up: CPU seconds over `--seconds`
 * (as a percentage of one core) and RSS. `--runs` processes, median. The warm-up is
 * 35 s: V8 collects garbage once, 15 to 30 s after the start (its memory reducer, on
 * its worker threads), which is start-up, not the idle cost; `--warmup 5` measures it.
 *
 *   npx tsx bench/idle.ts [--seconds 30] [--runs 3] [--warmup 35]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { arg, emit } from './lib/cli.js';
import { median } from './lib/pg.js';
import { startHubProcess } from './lib/hub-process.js';
import { pidCpuMs } from './lib/cpu.js';

const seconds = Number(arg('seconds', '30'));
const runs = Number(arg('runs', '3'));
const warmup = Number(arg('warmup', '35'));
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Math.round(Number(m?.[1] ?? 0) / 1024);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const results: Array<{ cpu_percent: number; cpu_seconds: number; rss_mb: number }> = [];
for (let i = 0; i < runs; i++) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hub-idle-'));
  const hub = await startHubProcess({
    HIVE_DATABASE_DATA_DIR: dir,
    HIVE_SERVER_HOST: '127.0.0.1',
    HIVE_AGENTS_DEFAULT_POOL_SIZE: '2',
  });
  try {
    await sleep(warmup * 1000);
    const before = pidCpuMs(hub.pid);
    await sleep(seconds * 1000);
    const used = (pidCpuMs(hub.pid) - before) / 1000;
    results.push({ cpu_seconds: used, cpu_percent: Math.round((used / seconds) * 1000) / 10, rss_mb: rssMb(hub.pid) });
  } finally {
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
emit('idle', {
  seconds,
  runs: results,
  median_cpu_percent: median(results.map((r) => r.cpu_percent)),
  median_rss_mb: median(results.map((r) => r.rss_mb)),
});
