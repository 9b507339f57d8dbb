/**
 * The lifecycle's operations (src/domain/lifecycle.ts) as SQL fragments: the
 * status an operation writes and the guard on the statuses it moves from. Every
 * statement of both engines that writes a task's status takes them from here
 * (test/unit/test-lifecycle.test.ts scans the code for any other status write).
 */
import { OPERATIONS, REQUEUE_CLEARS, type OperationName } from '../../domain/index.js';

/** `status = '<to>'`: the operation's write (a SET column takes no table alias). */
export function setStatus(op: OperationName): string {
  return `status = '${OPERATIONS[op].to}'`;
}

/** The guard: the task is in one of the operation's source statuses. */
export function inFrom(op: OperationName, alias?: string): string {
  const col = alias === undefined ? 'status' : `${alias}.status`;
  const from = OPERATIONS[op].from;
  return from.length === 1 ? `${col} = '${from[0]}'` : `${col} IN (${from.map((s) => `'${s}'`).join(', ')})`;
}

/** A requeue's SET: pending, with the attempt in flight forgotten. */
export const REQUEUE_SET = [setStatus('requeue'), ...REQUEUE_CLEARS.map((c) => `${c} = NULL`)].join(', ');

/** The operations an attempt's end can be (TaskFinish.status: completed, failed, dead, pending after a failure or an abort, waiting). */
const FINISH_OPS: readonly OperationName[] = ['complete', 'fail', 'dead', 'retry', 'requeue', 'wait'];

/**
 * The guard of a batch of ends: one statement stores them all, so their
 * operations must move from the same statuses (checked when this module loads).
 */
export function finishGuard(alias?: string): string {
  return inFrom('complete', alias);
}

for (const op of FINISH_OPS)
  if (inFrom(op) !== inFrom('complete')) throw new Error(`lifecycle: ${op} moves from other statuses than complete`);
