/**
 * The handler contract: what an agent's code is given for a task and how it
 * says that it failed. The engine runs handlers (execute.ts); actors/agent holds
 * the built-in ones and loads users' modules.
 */
import type { Logger } from '../log/logger.js';
import type { ProgressReport, Resume, Task, WaitRequest } from '../domain/index.js';

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
  /** Workflows (docs/workflows.md): the task that created this one; the state the last attempt saved when it waited; what woke it (a timer, a signal with its payload, its children with their results, a timeout). */
  parent_id: string | null;
  checkpoint: unknown;
  resume: Resume | null;
}

/** Returned by a handler (ctx.sleep, ctx.waitForSignal, …): the attempt ends by waiting. */
export class Suspend {
  constructor(readonly request: WaitRequest) {}
}

/** How an attempt waits: what ctx.sleep and the others take besides what they wait for. */
export interface WaitOptions {
  /** JSON handed back to the next attempt (task.checkpoint). */
  checkpoint?: unknown;
  /** Signals and children: give up after this long (a failed attempt: WAIT_TIMEOUT). */
  timeoutMs?: number;
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
  /** Progress so far (stored, the last N kept, and streamed to observers as task.progress); throws VALIDATION_FAILED for a bad report. */
  progress(report: Partial<ProgressReport>): void;
  /** Creates child tasks of this one (submissions, as POST /api/tasks takes them); resolves with them, stored. */
  spawn(tasks: readonly unknown[]): Promise<Task[]>;
  /** `return ctx.sleep(ms, {checkpoint})`: the attempt ends; the task waits, holding no agent, and runs again after ms. */
  sleep(ms: number, options?: WaitOptions): Suspend;
  /** As sleep, until a time. */
  continueAt(at: Date | string, options?: WaitOptions): Suspend;
  /** The task waits for the named signal (POST /api/tasks/:id/signal); its next attempt gets it in resume.signal. */
  waitForSignal(name: string, options?: WaitOptions): Suspend;
  /** The task waits for a person's approval (POST /api/tasks/:id/approve); a rejection fails it. */
  waitForApproval(options?: WaitOptions): Suspend;
  /** The task waits for its children (all, or any), with a policy for a failed child; the next attempt gets their results in resume.children. */
  waitForChildren(
    mode?: 'all' | 'any',
    options?: WaitOptions & { onChildFailure?: 'fail' | 'retry' | 'ignore'; childRetries?: number },
  ): Suspend;
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
  WAIT_TIMEOUT: {
    retryable: 'yes',
    summary: 'The task waited for a signal, an approval or its children longer than its timeout_ms (a failed attempt).',
  },
  APPROVAL_REJECTED: { retryable: 'no', summary: 'A person rejected the approval the task waited for.' },
  CHILD_FAILED: {
    retryable: 'no',
    summary:
      "A child ended failed, dead or cancelled while its parent waited for its children (the parent's policy: fail).",
  },
  PARENT_ENDED: {
    retryable: 'no',
    summary: 'On a cancelled task: its parent was cancelled or ended without completing.',
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
