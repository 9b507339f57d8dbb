/**
 * The handler contract: what an agent's code is given for a task and how it
 * says that it failed. The engine runs handlers (execute.ts); actors/agent holds
 * the built-in ones and loads users' modules.
 */
import type { Logger } from '../log/logger.js';

/** What a handler sees of a task. */
export interface ExecutorTask {
  id: string;
  title: string;
  description: string;
  type: string;
  priority: string;
  payload: unknown;
  attempt: number;
  timeout_ms: number;
}

export interface ExecutorContext {
  /** Aborted on cancellation, timeout, agent removal or shutdown; long handlers should watch it. */
  signal: AbortSignal;
  agent: { id: string; name: string };
  log: Logger;
  /**
   * Reports what the attempt used so far, by unit ([flow] units; e.g. `{tokens: 512}`);
   * the last report counts. The task's reservation settles to it when the attempt
   * ends (docs/flow-control.md). Throws VALIDATION_FAILED for an unknown unit or a
   * negative amount, and then records nothing.
   */
  reportUsage(usage: Record<string, number>): void;
}

export type Handler = (task: ExecutorTask, ctx: ExecutorContext) => unknown;

/** The codes a failed task's `error.code` can carry (docs/errors.md lists them; a test checks). */
export const TASK_FAILURE_CODES = {
  TASK_FAILED: {
    retryable: 'as the handler says',
    summary: 'The handler threw (a TaskFailure, or any other error: not retryable).',
  },
  TASK_TIMEOUT: { retryable: 'yes', summary: "The handler ran longer than the task's timeout_ms and was aborted." },
  INVALID_PAYLOAD: {
    retryable: 'no',
    summary: 'The payload does not fit the executor (e.g. sleep without an integer payload.ms).',
  },
  RESULT_NOT_JSON: { retryable: 'no', summary: 'The handler returned something that is not JSON (a cycle, a BigInt).' },
  EXECUTOR_MISSING: { retryable: 'yes', summary: "The agent's executor is not configured on this node." },
  AGENT_UNREACHABLE: {
    retryable: 'yes',
    summary: 'A remote agent lost its connection to this node between the placement of the task and its start.',
  },
  RESULT_INVALID: {
    retryable: 'yes',
    summary:
      'A remote agent answered with a result no store can hold (a NUL character, nesting deeper than 64); the agent got Rejected.',
  },
  RESULT_UNSTORABLE: {
    retryable: 'yes',
    summary:
      'The database refused to store this result alone (its batch neighbours were stored); the attempt counts as failed.',
  },
  DEPENDENCY_FAILED: {
    retryable: 'no',
    summary: 'On a cancelled task: a task it depends on ended failed, dead or cancelled.',
  },
} as const;

/** Throw this from a handler to choose the failure code and whether a retry may help. */
export class TaskFailure extends Error {
  constructor(
    message: string,
    readonly retryable = false,
    readonly code = 'TASK_FAILED',
  ) {
    super(message);
    this.name = 'TaskFailure';
  }
}

/** Resolves after ms, or rejects with the signal's reason when aborted first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
