import { HubError } from '../errors/index.js';

export const TASK_STATUSES = ['pending', 'assigned', 'running', 'completed', 'failed', 'dead', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'dead', 'cancelled'];

/**
 * The task lifecycle. pending → assigned → running → completed | failed;
 * a retryable failure or an expired lease goes back to pending; failed can be
 * retried (→ pending) or become dead; dead can be redriven (→ pending);
 * anything not terminal can be cancelled.
 */
const TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  pending: ['assigned', 'cancelled', 'dead'],
  assigned: ['running', 'pending', 'cancelled', 'failed'],
  running: ['completed', 'failed', 'pending', 'cancelled', 'dead'],
  completed: [],
  failed: ['pending', 'dead'],
  dead: ['pending'],
  cancelled: [],
};

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The statuses a task may move to `to` from. */
export function sourcesOf(to: TaskStatus): TaskStatus[] {
  return TASK_STATUSES.filter((from) => canTransition(from, to));
}

/**
 * For the stores, before they record a move: a move outside the lifecycle is the
 * hub's own bug (INTERNAL), caught in the transaction that would write it.
 */
export function checkRecordedMove(id: string, from: TaskStatus, to: TaskStatus): void {
  if (!canTransition(from, to))
    throw new HubError('INTERNAL', `task ${id}: ${from} -> ${to} is not a transition of the task lifecycle`, {
      details: { task_id: id, from, to },
    });
}

/** Refuses an illegal lifecycle move with INVALID_STATE. */
export function assertTransition(id: string, from: TaskStatus, to: TaskStatus): void {
  if (!canTransition(from, to)) {
    throw new HubError('INVALID_STATE', `task ${id} cannot move from ${from} to ${to}`, {
      details: { task_id: id, from, to },
    });
  }
}
