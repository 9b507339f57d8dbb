import { HubError } from '../errors/index.js';

export const TASK_STATUSES = [
  'pending',
  'assigned',
  'running',
  'waiting',
  'completed',
  'failed',
  'dead',
  'cancelled',
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'dead', 'cancelled'];

/**
 * The task lifecycle. pending → assigned → running → completed | failed | dead
 * (an attempt that ends before its start is stored goes from assigned); a
 * retryable failure, a release or an expired lease goes back to pending; failed
 * and dead can be redriven (→ pending); anything not terminal can be cancelled.
 * An attempt may end by waiting (docs/workflows.md): for a time, a signal or its
 * children; a waiting task holds no agent and goes back to pending when woken,
 * or fails (a rejected approval, a failed child) or is dead-lettered (its wait
 * timed out on its last attempt).
 * lifecycle.ts names the operation behind each move.
 */
const TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  pending: ['assigned', 'cancelled'],
  assigned: ['running', 'completed', 'failed', 'dead', 'pending', 'waiting', 'cancelled'],
  running: ['completed', 'failed', 'dead', 'pending', 'waiting', 'cancelled'],
  waiting: ['pending', 'failed', 'dead', 'cancelled'],
  completed: [],
  failed: ['pending'],
  dead: ['pending'],
  cancelled: [],
};

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return TRANSITIONS[from].includes(to);
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
