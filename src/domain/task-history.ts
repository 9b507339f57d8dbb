import type { Task } from './task.js';
import type { TaskStatus } from './task-state.js';

/** One step of a task's history, as GET /api/tasks/:id shows it. */
export interface HistoryEvent {
  id: number | null;
  task_id: string;
  from_status: TaskStatus | null;
  to_status: TaskStatus;
  agent_id: string | null;
  node_id: string | null;
  detail: unknown;
  created_at: string;
}

const RANK: Record<TaskStatus, number> = {
  pending: 0,
  assigned: 1,
  running: 2,
  waiting: 3,
  completed: 3,
  failed: 3,
  dead: 3,
  cancelled: 3,
};

/**
 * A task's history: the recorded events (failures, retries, requeues, cancels,
 * manual assignments) merged with the steps of its latest attempt, which the hot
 * path does not write as rows but keeps as timestamps on the task (created_at,
 * claimed_at, started_at, completed_at).
 */
export function taskHistory(task: Task, recorded: readonly HistoryEvent[]): HistoryEvent[] {
  const synth: HistoryEvent[] = [];
  const add = (
    from: TaskStatus | null,
    to: TaskStatus,
    at: string | null,
    agent: string | null,
    detail: unknown,
  ): void => {
    if (at === null) return;
    // A recorded event for the same step wins (it carries the reason).
    if (
      recorded.some(
        (e) => e.to_status === to && e.from_status !== to && Math.abs(Date.parse(e.created_at) - Date.parse(at)) < 5,
      )
    )
      return;
    synth.push({
      id: null,
      task_id: task.id,
      from_status: from,
      to_status: to,
      agent_id: agent,
      node_id: to === 'pending' ? null : task.lease_owner,
      detail,
      created_at: at,
    });
  };
  add(null, 'pending', task.created_at, null, { reason: 'submitted' });
  add('pending', 'assigned', task.claimed_at, task.assigned_agent, { reason: 'claimed' });
  add('assigned', 'running', task.started_at, task.assigned_agent, null);
  if (task.status === 'completed') add('running', 'completed', task.completed_at, task.assigned_agent, null);
  return [...recorded, ...synth].sort(
    (a, b) =>
      a.created_at.localeCompare(b.created_at) || RANK[a.to_status] - RANK[b.to_status] || (a.id ?? 0) - (b.id ?? 0),
  );
}
