/**
 * Backup and restore of N tasks (default 100,000) on each engine: the time and
 * size of `backup` and the time of `restore` into a fresh store, through the same
 * functions the CLI calls. Prints JSON (bench/results/backup-*.json).
 *
 *   npx tsx bench/backup.ts [--tasks 100000] [--runs 3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, readProcessEnv } from '../src/config/index.js';
import { parseNewTask } from '../src/domain/task.js';
import { createLogger } from '../src/log/logger.js';
import { backupStore, openStore, prepareDataDir, restoreStore } from '../src/storage/index.js';
import { arg, emit } from './lib/cli.js';
import { benchDatabase } from './lib/pg.js';

const TASKS = Number(arg('tasks', '100000'));
const RUNS = Number(arg('runs', '3'));
const log = createLogger({ level: 'error', nodeId: 'bench' });
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function fill(env: Record<string, string>): Promise<void> {
  const config = loadConfig({ env });
  prepareDataDir(config.database.data_dir);
  const store = await openStore(config, log);
  await store.migrate();
  const defaults = { maxAttempts: 3, timeoutMs: 300_000 };
  for (let done = 0; done < TASKS; done += 1000) {
    const batch = Array.from({ length: Math.min(1000, TASKS - done) }, (_, i) =>
      parseNewTask(
        {
          title: `backup bench ${done + i}`,
          description: 'a task of typical size '.repeat(8),
          payload: { n: done + i, doc: 'q3.pdf' },
        },
        defaults,
      ),
    );
    await store.createTasks(batch, 'bench');
  }
  await store.close();
}

async function engine(name: 'sqlite' | 'postgres'): Promise<Record<string, unknown>> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `hub-bench-backup-${name}-`));
  const dbs =
    name === 'postgres'
      ? [await benchDatabase(), ...(await Promise.all(Array.from({ length: RUNS }, () => benchDatabase())))]
      : [];
  const envOf = (i: number): Record<string, string> => ({
    HIVE_ENV: 'test',
    HIVE_DATABASE_DATA_DIR: path.join(tmp, `store-${i}`),
    HIVE_DATABASE_URL: dbs[i]?.url ?? '',
  });
  try {
    await fill(envOf(0));
    const backups: Array<{ ms: number; bytes: number }> = [];
    const restores: number[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const file = path.join(tmp, `backup-${run}`);
      const b = await backupStore(loadConfig({ env: envOf(0) }), file, readProcessEnv());
      if (b.contents.tasks !== TASKS) throw new Error(`backup holds ${b.contents.tasks} tasks, expected ${TASKS}`);
      backups.push({ ms: b.ms, bytes: b.bytes });
      const r = await restoreStore(loadConfig({ env: envOf(run) }), file, { force: false, log, env: readProcessEnv() });
      if (r.contents.tasks !== TASKS) throw new Error(`restore holds ${r.contents.tasks} tasks, expected ${TASKS}`);
      restores.push(r.ms);
    }
    return {
      engine: name,
      tasks: TASKS,
      runs: RUNS,
      backup_ms_median: Math.round(median(backups.map((b) => b.ms))),
      backup_mib: Math.round((median(backups.map((b) => b.bytes)) / 1_048_576) * 10) / 10,
      restore_ms_median: Math.round(median(restores)),
      backup_ms: backups.map((b) => Math.round(b.ms)),
      restore_ms: restores.map((m) => Math.round(m)),
    };
  } finally {
    for (const db of dbs) await db.drop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

emit('backup', { results: [await engine('sqlite'), await engine('postgres')] });
