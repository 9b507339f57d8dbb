import { errorMessage } from '../../src/errors/index.js';
import type { ExecutorContext, ExecutorTask, Handler } from './executors.js';
import { TaskFailure } from './executors.js';

export type Outcome =
  /** `json`: the result as JSON text (checked and encoded once, stored as is). */
  | { kind: 'completed'; result: unknown; json: string }
  | { kind: 'failed'; error: { code: string; message: string; retryable: boolean } }
  | { kind: 'cancelled'; reason: string };

/** Why an execution was aborted; the signal's reason. */
export class AbortReason extends Error {
  constructor(
    readonly kind: 'cancelled' | 'timeout',
    message: string,
  ) {
    super(message);
  }
}

function asError(x: unknown): Error {
  return x instanceof Error ? x : new Error(String(x));
}

/** The handler's value, or a rejection as soon as the signal aborts (whichever comes first). */
function raceAbort(run: () => unknown, signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(asError(signal.reason));
    const onAbort = (): void => reject(asError(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = (): void => signal.removeEventListener('abort', onAbort);
    let value: unknown;
    try {
      value = run();
    } catch (err) {
      settle();
      // The handler's own value is passed on untouched: a thrown {code, retryable} must keep its fields.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return reject(err);
    }
    if (value instanceof Promise) {
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
    } else {
      settle();
      resolve(value);
    }
  });
}

function failed(code: string, message: string, retryable: boolean): Outcome {
  return { kind: 'failed', error: { code, message, retryable } };
}

/**
 * Runs a handler under the task's timeout. A handler that ignores its signal is
 * abandoned at the abort (its late result is dropped), so a stuck handler never
 * holds an agent slot. Results must be JSON.
 */
export async function execute(handler: Handler, task: ExecutorTask, ctx: ExecutorContext, controller: AbortController): Promise<Outcome> {
  const timer = setTimeout(() => controller.abort(new AbortReason('timeout', `task exceeded its timeout of ${task.timeout_ms} ms`)), task.timeout_ms);
  try {
    const result: unknown = await raceAbort(() => handler(task, ctx), controller.signal);
    return { kind: 'completed', result: result ?? null, json: JSON.stringify(result ?? null) };
  } catch (err) {
    if (controller.signal.aborted) {
      const reason: unknown = controller.signal.reason;
      if (reason instanceof AbortReason && reason.kind === 'timeout') return failed('TASK_TIMEOUT', reason.message, true);
      return { kind: 'cancelled', reason: errorMessage(reason) };
    }
    if (err instanceof TaskFailure) return failed(err.code, err.message, err.retryable);
    if (err instanceof TypeError && /JSON|circular|BigInt/i.test(err.message)) return failed('RESULT_NOT_JSON', `the handler's result is not JSON: ${err.message}`, false);
    // Plain errors from user handlers may say what they are: {code: "UPPER_SNAKE", retryable: true}.
    const { code, retryable } = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; retryable?: unknown };
    return failed(typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : 'TASK_FAILED', errorMessage(err), retryable === true);
  } finally {
    clearTimeout(timer);
  }
}
