/**
 * One no-op workload on each system: N tasks submitted in batches of 1,000 by one
 * producer while workers run them; timed from the first submission to the last
 * completion. Each system gets a fresh database (BullMQ a flushed Redis) and the
 * settings its documentation advises for throughput.
 */
import { PgBoss } from 'pg-boss';
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import pg from 'pg';
import { Queue, Worker } from 'bullmq';
import type { FlowPolicy, NewTask } from '../../src/domain/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import type { Submitted, TaskManagementMsg } from '../../actors/task-distributor/messages.js';
import { hubStack } from './hub-stack.js';
import { benchDatabase } from './pg.js';
import { cpuPerTask, readCpu, type CpuReading } from './cpu.js';

export interface RunResult {
  tasks: number;
  ms: number;
  tasks_per_s: number;
  /** CPU per task in this process (the system's client and workers) and in its server (PostgreSQL or Redis). */
  node_us_per_task?: number;
  server_us_per_task?: number;
}

const BATCH = 1000;

/** Starts the clock and the CPU meter (read again by result(), before the system's pools close). */
function start(server?: string): { t0: number; cpu: CpuReading; server?: string } {
  return { t0: performance.now(), cpu: readCpu(server), ...(server !== undefined ? { server } : {}) };
}

function result(n: number, s: { t0: number; cpu: CpuReading; server?: string }): RunResult {
  const ms = performance.now() - s.t0;
  return {
    tasks: n,
    ms: Math.round(ms),
    tasks_per_s: Math.round(n / (ms / 1000)),
    ...cpuPerTask(s.cpu, readCpu(s.server), n),
  };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export function noopTask(i: number): NewTask {
  return {
    title: `noop-${i}`,
    description: '',
    type: 'noop',
    priority: 'medium',
    required_capabilities: [],
    payload: { i },
    max_attempts: 3,
    timeout_ms: 60_000,
    run_at: null,
    idempotency_key: null,
    depends_on: [],
  };
}

/** Variations of the hub's run: the tasks it is given, the flow rules it applies. */
export interface HubRunOptions {
  task?: (i: number) => NewTask;
  flow?: FlowPolicy;
}

/** The hub in-process: 4 echo agents of max_concurrency 64, batched claims and group commit (the defaults). */
export async function runHub(n: number, env: Record<string, string> = {}, o: HubRunOptions = {}): Promise<RunResult> {
  const db = await benchDatabase();
  const stack = await hubStack({
    HIVE_DATABASE_URL: db.url,
    HIVE_AGENTS_DEFAULT_POOL_SIZE: '4',
    HIVE_AGENTS_POOL_MAX_CONCURRENCY: '64',
    HIVE_TASKS_MAX_PENDING: '100000000',
    HIVE_TASKS_CLAIM_BATCH: '1000',
    ...env,
  });
  if (o.flow !== undefined) stack.store.configureFlow(o.flow);
  const make = o.task ?? noopTask;
  try {
    let done = 0;
    const all = deferred();
    stack.events.subscribe((e) => {
      if (e.type === 'task.completed' && ++done === n) all.resolve();
    });
    const t0 = start();
    for (let i = 0; i < n; i += BATCH) {
      const tasks = Array.from({ length: Math.min(BATCH, n - i) }, (_, j) => make(i + j));
      await stack.hive.ask(
        stack.hive.modules.task_management,
        (replyTo: ReplyTo<Submitted[]>): TaskManagementMsg => ({ type: 'task.submit_bulk', tasks, replyTo }),
        120_000,
      );
    }
    await all.promise;
    return result(n, t0);
  } finally {
    await stack.close();
    await db.drop();
  }
}

/** pg-boss 12: insert in batches; two workers fetch 1,000 and complete them as a batch. */
export async function runPgBoss(n: number): Promise<RunResult> {
  const db = await benchDatabase('pgboss_bench');
  const boss = new PgBoss({ connectionString: db.url, max: 10, supervise: false, schedule: false });
  boss.on('error', () => undefined);
  await boss.start();
  await boss.createQueue('bench');
  try {
    let done = 0;
    const t0 = start();
    const worker = async (): Promise<void> => {
      while (done < n) {
        const jobs = await boss.fetch('bench', { batchSize: 1000 });
        if (jobs.length === 0) {
          await new Promise((r) => setTimeout(r, 2));
          continue;
        }
        await boss.complete(
          'bench',
          jobs.map((j) => j.id),
        );
        done += jobs.length;
      }
    };
    const workers = [worker(), worker()];
    for (let i = 0; i < n; i += BATCH) {
      await boss.insert(
        'bench',
        Array.from({ length: Math.min(BATCH, n - i) }, (_, j) => ({ data: { i: i + j } })),
      );
    }
    await Promise.all(workers);
    return result(n, t0);
  } finally {
    await boss.stop({ graceful: false });
    await db.drop();
  }
}

/** graphile-worker 0.17: addJobs in batches; local queue of 2,000, batched completion, 10 concurrent jobs. */
export async function runGraphile(n: number): Promise<RunResult> {
  const db = await benchDatabase('graphile_bench');
  // Our own pool (ended before the database is dropped) and a silent logger (its per-job INFO lines would slow it down).
  const pgPool = new pg.Pool({ connectionString: db.url, max: 12 });
  pgPool.on('error', () => undefined);
  const logger = new Logger(() => () => undefined);
  const utils = await makeWorkerUtils({ pgPool, logger });
  await utils.migrate();
  let done = 0;
  const all = deferred();
  const runner = await run({
    pgPool,
    logger,
    concurrency: 10,
    noHandleSignals: true,
    pollInterval: 1000,
    taskList: {
      bench: () => {
        if (++done === n) all.resolve();
        return Promise.resolve();
      },
    },
    preset: { worker: { localQueue: { size: 2000 }, completeJobBatchDelay: 0 } },
  });
  try {
    const t0 = start();
    for (let i = 0; i < n; i += BATCH) {
      await utils.addJobs(
        Array.from({ length: Math.min(BATCH, n - i) }, (_, j) => ({ identifier: 'bench', payload: { i: i + j } })),
      );
    }
    await all.promise;
    return result(n, t0);
  } finally {
    await runner.stop();
    await utils.release();
    await pgPool.end();
    await db.drop();
  }
}

/** BullMQ on Redis (127.0.0.1:6379): addBulk in batches; one worker of concurrency 100, jobs removed on completion. */
export async function runBullmq(n: number): Promise<RunResult> {
  const connection = { host: '127.0.0.1', port: 6379 };
  const name = `bench-${Date.now()}`;
  const queue = new Queue(name, { connection });
  let done = 0;
  const all = deferred();
  const worker = new Worker(
    name,
    () => {
      if (++done === n) all.resolve();
      return Promise.resolve();
    },
    { connection, concurrency: 100, removeOnComplete: { count: 0 } },
  );
  try {
    const t0 = start('redis-server');
    for (let i = 0; i < n; i += BATCH) {
      await queue.addBulk(
        Array.from({ length: Math.min(BATCH, n - i) }, (_, j) => ({
          name: 'bench',
          data: { i: i + j },
          opts: { removeOnComplete: true },
        })),
      );
    }
    await all.promise;
    return result(n, t0);
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
  }
}
