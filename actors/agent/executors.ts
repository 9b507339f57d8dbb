/**
 * In-process executors: what a local agent runs a task with. Built in: echo,
 * sleep, fail. Users add handler modules under [agents.executors.<name>]
 * (a module exporting `handler(task, ctx)`), loaded once at start.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HubError, errorMessage } from '../../src/errors/index.js';
import { TaskFailure, sleep, type Handler } from '../../src/engine/handler.js';

function payloadObject(payload: unknown): Record<string, unknown> {
  return typeof payload === 'object' && payload !== null && !Array.isArray(payload)
    ? (payload as Record<string, unknown>)
    : {};
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
