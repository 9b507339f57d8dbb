import type { Task } from '../../src/domain/index.js';
import type { ModuleDeps } from './deps.js';

/**
 * Puts a task that no execution holds back to pending (same attempt number
 * fences it: if it moved on meanwhile, nothing changes). Used at recovery, for
 * expired leases and when an agent is removed.
 */
export async function requeueTask(deps: ModuleDeps, task: Task, reason: string): Promise<Task | undefined> {
  const after = await deps.store.transitionTask(task.id, {
    from: ['assigned', 'running'],
    to: 'pending',
    attempt: task.attempts,
    patch: { assigned_agent: null, lease_owner: null, lease_expires_at: null, started_at: null },
    nodeId: deps.nodeId,
    detail: { reason },
  });
  if (after !== undefined) {
    deps.log.info({ event: 'task.requeued', task_id: task.id, reason }, `task requeued: ${reason}`);
    deps.events.publish('tasks', 'task.requeued', after);
  }
  return after;
}
