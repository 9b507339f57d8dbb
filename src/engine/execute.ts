import { parseAmounts, type Amounts, type ProgressReport, type Task, type WaitRequest } from '../domain/index.js';
import { errorMessage } from '../errors/index.js';
import {
  Suspend,
  TaskFailure,
  type ExecutorContext,
  type ExecutorTask,
  type Handler,
  type WaitOptions,
} from './handler.js';
import { WAIT_CALLS } from './wait-calls.js';
import type { Logger } from '../log/logger.js';

export type Outcome =
  /** `json`: the result as JSON text (checked and encoded once, stored as is). */
  | { kind: 'completed'; result: unknown; json: string }
  /** The attempt ended by waiting (docs/workflows.md). */
  | { kind: 'wait'; wait: WaitRequest }
  | { kind: 'failed'; error: { code: string; message: string; retryable: boolean } }
  | { kind: 'cancelled'; reason: string };

/** Why an execution was aborted. */
export class AbortReason extends Error {
  constructor(
    readonly kind: 'cancelled' | 'timeout',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Cancellation of one execution. The AbortSignal a handler sees is made only if
 * the handler asks for it (most short handlers never do, and an AbortController
 * per task is a measurable cost on the hot path); aborting works either way.
 */
export class RunControl {
  private controller: AbortController | undefined;
  private listener: ((reason: Error) => void) | undefined;
  reason: Error | undefined;
  /** The usage the handler reported last (ExecutorContext.reportUsage). */
  usage: Amounts | null = null;

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.reason !== undefined) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.reason !== undefined;
  }

  abort(reason: Error): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.controller?.abort(reason);
    this.listener?.(reason);
  }

  /** @internal the running execution's abort hook */
  onAbort(fn: ((reason: Error) => void) | undefined): void {
    this.listener = fn;
  }
}

/** What a handler is given besides the task (its `signal` comes from the run's control). */
export interface RunContext {
  agent: { id: string; name: string };
  readonly log: Logger;
  /** The units a usage report may name. */
  units: readonly string[];
  /** Where this attempt's progress goes (checked, numbered, streamed and stored). */
  progress(report: Partial<ProgressReport>): void;
  /** Creates children of this task. */
  spawn(tasks: readonly unknown[]): Promise<Task[]>;
}

/**
 * The handler's value, or a rejection as soon as the run is aborted (whichever
 * comes first). A synchronous handler needs no timer; an asynchronous one is
 * aborted at the task's timeout.
 */
function raceAbort(run: () => unknown, control: RunControl, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (control.reason !== undefined) return reject(control.reason);
    let value: unknown;
    try {
      value = run();
    } catch (err) {
      // The handler's own value is passed on untouched: a thrown {code, retryable} must keep its fields.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return reject(err);
    }
    if (!(value instanceof Promise)) return resolve(value);
    const timer = setTimeout(
      () => control.abort(new AbortReason('timeout', `task exceeded its timeout of ${timeoutMs} ms`)),
      timeoutMs,
    );
    const settle = (): void => {
      clearTimeout(timer);
      control.onAbort(undefined);
    };
    control.onAbort((reason) => {
      settle();
      reject(reason);
    });
    value.then(
      (v: unknown) => {
        settle();
        resolve(v);
      },
      (err: unknown) => {
        settle();
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(err);
      },
    );
  });
}

function failed(code: string, message: string, retryable: boolean): Outcome {
  return { kind: 'failed', error: { code, message, retryable } };
}

/**
 * What a handler is given: one object per attempt whose methods live on the
 * prototype (the hot path makes one per task; closures would be several).
 */
class HandlerContext implements ExecutorContext {
  constructor(
    private readonly run: RunContext,
    private readonly control: RunControl,
  ) {}

  get agent(): { id: string; name: string } {
    return this.run.agent;
  }

  get log(): Logger {
    return this.run.log;
  }

  get signal(): AbortSignal {
    return this.control.signal;
  }

  reportUsage(usage: Record<string, number>): void {
    this.control.usage = parseAmounts(usage, 'usage', this.run.units);
  }

  progress(report: Partial<ProgressReport>): void {
    this.run.progress(report);
  }

  spawn(tasks: readonly unknown[]): Promise<Task[]> {
    return this.run.spawn(tasks);
  }

  sleep(ms: number, o?: WaitOptions): Suspend {
    return WAIT_CALLS.sleep(ms, o);
  }

  continueAt(at: Date | string, o?: WaitOptions): Suspend {
    return WAIT_CALLS.continueAt(at, o);
  }

  waitForSignal(name: string, o?: WaitOptions): Suspend {
    return WAIT_CALLS.waitForSignal(name, o);
  }

  waitForApproval(o?: WaitOptions): Suspend {
    return WAIT_CALLS.waitForApproval(o);
  }

  waitForChildren(mode?: 'all' | 'any', o?: Parameters<ExecutorContext['waitForChildren']>[1]): Suspend {
    return WAIT_CALLS.waitForChildren(mode, o);
  }
}

/**
 * Runs a handler under the task's timeout. A handler that ignores its signal is
 * abandoned at the abort (its late result is dropped), so a stuck handler never
 * holds an agent slot. Results must be JSON.
 */
export async function execute(
  handler: Handler,
  task: ExecutorTask,
  ctx: RunContext,
  control: RunControl,
): Promise<Outcome> {
  const full = new HandlerContext(ctx, control);
  try {
    const result: unknown = await raceAbort(() => handler(task, full), control, task.timeout_ms);
    if (result instanceof Suspend) return { kind: 'wait', wait: result.request };
    return { kind: 'completed', result: result ?? null, json: JSON.stringify(result ?? null) };
  } catch (err) {
    if (control.reason !== undefined) {
      const reason = control.reason;
      if (reason instanceof AbortReason && reason.kind === 'timeout')
        return failed('TASK_TIMEOUT', reason.message, true);
      return { kind: 'cancelled', reason: errorMessage(reason) };
    }
    if (err instanceof TaskFailure) return failed(err.code, err.message, err.retryable);
    if (err instanceof TypeError && /JSON|circular|BigInt/i.test(err.message))
      return failed('RESULT_NOT_JSON', `the handler's result is not JSON: ${err.message}`, false);
    // Plain errors from user handlers may say what they are: {code: "UPPER_SNAKE", retryable: true}.
    const { code, retryable } = (typeof err === 'object' && err !== null ? err : {}) as {
      code?: unknown;
      retryable?: unknown;
    };
    return failed(
      typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : 'TASK_FAILED',
      errorMessage(err),
      retryable === true,
    );
  }
}
