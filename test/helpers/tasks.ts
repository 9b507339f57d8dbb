import type { NewTask, Task } from '../../src/domain/index.js';
import type { Hive } from '../../actors/hive/hive.js';
import type { Store } from '../../src/storage/index.js';

/** A valid NewTask for in-process tests: no capabilities, 3 attempts, 10 s; `over` replaces fields. */
export function newTask(over: Partial<NewTask> = {}): NewTask {
  return {
    title: 't',
    description: '',
    type: 'general',
    priority: 'medium',
    required_capabilities: [],
    payload: null,
    max_attempts: 3,
    timeout_ms: 10_000,
    run_at: null,
    idempotency_key: null,
    depends_on: [],
    ...over,
  };
}

/** Stores one task (a batch of one: the store has no single-task insert). */
export async function createOne(
  store: Pick<Store, 'createTasks'>,
  task: NewTask,
  nodeId: string,
  claim?: { leaseMs: number },
): Promise<{ task: Task; created: boolean }> {
  const [one] = await store.createTasks([task], nodeId, [claim]);
  if (one === undefined) throw new Error('createTasks returned nothing');
  return one;
}

/** Submits `n` plain tasks in one bulk through task_management; returns their ids in order. */
export async function submitMany(hive: Hive, n: number): Promise<string[]> {
  const submitted = await hive.to(hive.modules.task_management)('task.submit_bulk', {
    tasks: Array.from({ length: n }, (_, i) => newTask({ title: `t${i}` })),
  });
  return submitted.map((s) => s.task.id);
}
