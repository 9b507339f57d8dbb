/**
 * One lifecycle: every way a stored task changes status is one operation of
 * this table, and every store writes a status only through one of them (the
 * statements take their status and their guard from here; a test scans the code
 * for any other status write). Each operation's moves are transitions of
 * TRANSITIONS (checked when this module loads), and every transition is some
 * operation's move (tested).
 */
import { canTransition, TASK_STATUSES, type TaskStatus } from './task-state.js';

export interface Operation {
  readonly from: readonly TaskStatus[];
  readonly to: TaskStatus;
}

export const OPERATIONS = {
  /** A claim leases ready tasks to a node (also a manual assignment: a claim by id). */
  claim: { from: ['pending'], to: 'assigned' },
  /** A long attempt's start is stored on its own (a short one's is stored with its end). */
  start: { from: ['assigned'], to: 'running' },
  /** From assigned when the attempt ended before its start was stored. */
  complete: { from: ['assigned', 'running'], to: 'completed' },
  /** A failure that will not be retried and leaves attempts (or is not retryable). */
  fail: { from: ['assigned', 'running'], to: 'failed' },
  /** The last attempt failed: dead-lettered (redrivable). */
  dead: { from: ['assigned', 'running'], to: 'dead' },
  /** A retryable failure: pending again after its backoff. */
  retry: { from: ['assigned', 'running'], to: 'pending' },
  /** A claimed task this node cannot run goes back; the attempt is not counted. */
  release: { from: ['assigned'], to: 'pending' },
  /** Back to pending without a result: an expired lease, a dead node, a recovered process, an aborted attempt. */
  requeue: { from: ['assigned', 'running'], to: 'pending' },
  /** The attempt ends by waiting (a timer, a signal, its children); the attempt is not counted. */
  wait: { from: ['assigned', 'running'], to: 'waiting' },
  /** A waiting task is woken (its time came, its signal or its children arrived, or its wait timed out with attempts left). */
  wake: { from: ['waiting'], to: 'pending' },
  /** A waiting task ends failed: its approval was rejected, or a child failed under the fail policy. */
  give_up: { from: ['waiting'], to: 'failed' },
  /** A waiting task's wait timed out on its last attempt: dead-lettered (redrivable). */
  expire: { from: ['waiting'], to: 'dead' },
  cancel: { from: ['pending', 'assigned', 'running', 'waiting'], to: 'cancelled' },
  /** A failed or dead task runs again from its first attempt (retry by request, redrive). */
  redrive: { from: ['failed', 'dead'], to: 'pending' },
} as const satisfies Record<string, Operation>;

export type OperationName = keyof typeof OPERATIONS;

/** How a task enters the lifecycle: stored pending, or already claimed for an idle agent (direct hand-off: a submit and a claim in one). */
export function initialStatus(claimed: boolean, waits = false): TaskStatus {
  if (waits) return OPERATIONS.wake.from[0];
  return claimed ? OPERATIONS.claim.to : OPERATIONS.claim.from[0];
}

/** The columns a wake clears and sets: the wait is over; `resume` says what ended it. */
export const WAKE_CLEARS = ['wait_for', 'wake_at'] as const;

/** The columns a requeue clears (the attempt in flight is forgotten; the task is claimable again). */
export const REQUEUE_CLEARS = [
  'assigned_agent',
  'started_at',
  'claimed_at',
  'lease_owner',
  'lease_expires_at',
] as const;

/** A requeue as a patch (for a transition by id). */
export const REQUEUE_PATCH = Object.fromEntries(REQUEUE_CLEARS.map((c) => [c, null])) as Record<
  (typeof REQUEUE_CLEARS)[number],
  null
>;

/** What a redrive resets: the task starts over from its first attempt. */
export const REDRIVE_PATCH = {
  attempts: 0,
  error: null,
  result: null,
  assigned_agent: null,
  started_at: null,
  completed_at: null,
  claimed_at: null,
  lease_owner: null,
  lease_expires_at: null,
  run_at: null,
  checkpoint: null,
  resume: null,
} as const;

/** Every (from, to) move of the operations. */
export function operationMoves(): Array<{ op: OperationName; from: TaskStatus; to: TaskStatus }> {
  return Object.entries(OPERATIONS).flatMap(([op, o]) =>
    o.from.map((from) => ({ op: op as OperationName, from, to: o.to })),
  );
}

/** Every transition of TRANSITIONS. */
export function allTransitions(): Array<{ from: TaskStatus; to: TaskStatus }> {
  return TASK_STATUSES.flatMap((from) =>
    TASK_STATUSES.filter((to) => canTransition(from, to)).map((to) => ({ from, to })),
  );
}

for (const m of operationMoves())
  if (!canTransition(m.from, m.to)) throw new Error(`lifecycle: ${m.op} moves ${m.from} -> ${m.to}, not a transition`);
