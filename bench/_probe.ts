import { hubStack } from '/work/main/bench/lib/hub-stack.js';
import { benchDatabase } from '/work/main/bench/lib/pg.js';
import type { ReplyTo } from '/work/main/src/runtime/index.js';
import type { TaskManagementMsg, Submitted } from '/work/main/actors/task-distributor/messages.js';
const N = Number(process.argv[2] ?? 20000);
const db = await benchDatabase();
const stack = await hubStack({ HIVE_DATABASE_URL: db.url, HIVE_AGENTS_DEFAULT_POOL_SIZE: '4', HIVE_AGENTS_POOL_MAX_CONCURRENCY: '64', HIVE_TASKS_MAX_PENDING: '10000000', HIVE_TASKS_CLAIM_BATCH: '1000' });
let done = 0;
let resolve!: () => void;
const all = new Promise<void>((r) => (resolve = r));
stack.events.subscribe((e) => { if (e.type === 'task.completed' && ++done === N) resolve(); });
const t0 = performance.now();
for (let i = 0; i < N; i += 1000) {
  const tasks = Array.from({ length: Math.min(1000, N - i) }, (_, j) => ({ title: `t${i + j}`, description: '', type: 'general', priority: 'medium' as const, required_capabilities: [], payload: null, max_attempts: 3, timeout_ms: 60000, run_at: null, idempotency_key: null, depends_on: [] }));
  await stack.hive.ask(stack.hive.modules.task_management, (replyTo: ReplyTo<Submitted[]>): TaskManagementMsg => ({ type: 'task.submit_bulk', tasks, replyTo }), 60000);
}
const t1 = performance.now();
await all;
const t2 = performance.now();
console.log(JSON.stringify({ N, submit_ms: Math.round(t1 - t0), total_ms: Math.round(t2 - t0), tasks_per_s: Math.round(N / ((t2 - t0) / 1000)), runner: stack.runner.stats() }));
await stack.close();
await db.drop();
process.exit(0);
