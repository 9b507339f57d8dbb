import { hubStack } from './lib/hub-stack.js';
import { benchDatabase } from './lib/pg.js';
import { noopTask } from './lib/systems.js';
import type { ReplyTo } from '../src/runtime/index.js';
import type { Submitted, TaskManagementMsg } from '../actors/task-distributor/messages.js';
import type { Agent } from '../src/domain/index.js';
import type { AgentManagementMsg } from '../actors/agent-management/messages.js';
const n = 20000;
const db = await benchDatabase();
const stack = await hubStack({ HIVE_DATABASE_URL: db.url, HIVE_AGENTS_DEFAULT_POOL_SIZE: '0', HIVE_AGENTS_POOL_MAX_CONCURRENCY: '64', HIVE_TASKS_MAX_PENDING: '100000000', HIVE_TASKS_CLAIM_BATCH: process.env.CB ?? '1000', HIVE_TASKS_PREFETCH: process.env.PF ?? '4', HIVE_TASKS_FLUSH_MAX: process.env.FM ?? '1000', HIVE_TASKS_FLUSH_WINDOW_MS: process.env.FW ?? '2' });
let t0 = performance.now();
for (let i = 0; i < n; i += 1000) {
  const tasks = Array.from({ length: 1000 }, (_, j) => noopTask(i + j));
  await stack.hive.ask(stack.hive.modules.task_management, (replyTo: ReplyTo<Submitted[]>): TaskManagementMsg => ({ type: 'task.submit_bulk', tasks, replyTo }), 120_000);
}
const submitMs = performance.now() - t0;
let done = 0;
let resolve!: () => void;
const all = new Promise<void>((r) => (resolve = r));
stack.events.subscribe((e) => { if (e.type === 'task.completed' && ++done === n) resolve(); });
t0 = performance.now();
await stack.hive.ask(stack.hive.modules.agent_management, (replyTo: ReplyTo<Agent[]>): AgentManagementMsg => ({ type: 'agent.ensure_pool', size: 4, replyTo }));
await all;
const runMs = performance.now() - t0;
console.log(JSON.stringify({ submit_per_s: Math.round(n / (submitMs / 1000)), process_per_s: Math.round(n / (runMs / 1000)), q: stack.store.queryStats(), r: stack.runner.stats().claims }));
await stack.close(); await db.drop(); process.exit(0);
