/**
 * In-process executors: what a local agent runs a task with. Built in: echo,
 * sleep, fail. Users add handler modules under [agents.executors.<name>]
 * (a module exporting `handler(task, ctx)`), loaded once at start.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HubError, errorMessage } from '../../src/errors/index.js';
import type { Logger } from '../../src/log/logger.js';

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

function payloadObject(payload: unknown): Record<string, unknown> {
  return typeof payload === 'object' && payload !== null && !Array.isArray(payload)
    ? (payload as Record<string, unknown>)
    : {};
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

export const BUILTIN_HANDLERS: Readonly<Record<string, Handler>> = {
  /** Returns the payload unchanged. */
  echo: (task) => task.payload,
  /** Waits payload.ms (0..86,400,000) milliseconds; honours cancellation. */
  sleep: async (task, ctx) => {
    const ms = payloadObject(task.payload)['ms'] ?? 0;
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > 86_400_000) {
      throw new TaskFailure(
        `payload.ms: expected an integer from 0 to 86400000, got ${JSON.stringify(ms)}`,
        false,
        'INVALID_PAYLOAD',
      );
    }
    await sleep(ms, ctx.signal);
    return { slept_ms: ms };
  },
  /** Fails on purpose: payload.message, payload.retryable (default false). */
  fail: (task) => {
    const p = payloadObject(task.payload);
    throw new TaskFailure(
      typeof p['message'] === 'string' ? p['message'] : 'failed on purpose (fail executor)',
      p['retryable'] === true,
    );
  },
};

/** Loads [agents.executors] handler modules; a missing file or export stops the start with the executor's name. */
export async function loadHandlers(
  executors: Readonly<Record<string, { module: string }>>,
  baseDir: string,
): Promise<Map<string, Handler>> {
  const handlers = new Map<string, Handler>(Object.entries(BUILTIN_HANDLERS));
  for (const [name, { module }] of Object.entries(executors)) {
    if (handlers.has(name)) {
      throw new HubError(
        'STARTUP_FAILED',
        `[agents.executors.${name}]: "${name}" is a built-in executor; choose another name`,
      );
    }
    const file = path.resolve(baseDir, module);
    let loaded: unknown;
    try {
      loaded = await import(pathToFileURL(file).href);
    } catch (err) {
      throw new HubError(
        'STARTUP_FAILED',
        `[agents.executors.${name}] module ${file} could not be loaded: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    const handler = (loaded as { handler?: unknown }).handler;
    if (typeof handler !== 'function') {
      throw new HubError(
        'STARTUP_FAILED',
        `[agents.executors.${name}] module ${file} does not export a function named handler`,
      );
    }
    handlers.set(name, handler as Handler);
  }
  return handlers;
}
