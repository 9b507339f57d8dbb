/** The ways a handler ends its attempt by waiting (ExecutorContext.sleep and the others), checked as any transport's wait. */
import { parseWaitRequest } from '../domain/index.js';
import { Suspend, type ExecutorContext, type WaitOptions } from './handler.js';

type WaitCalls = Pick<
  ExecutorContext,
  'sleep' | 'continueAt' | 'waitForSignal' | 'waitForApproval' | 'waitForChildren'
>;

function suspend(wait: Record<string, unknown>, o: WaitOptions = {}): Suspend {
  const request: Record<string, unknown> = { ...wait };
  if (o.checkpoint !== undefined) request['checkpoint'] = o.checkpoint;
  if (o.timeoutMs !== undefined) request['timeout_ms'] = o.timeoutMs;
  return new Suspend(parseWaitRequest(request, 'wait', Date.now()));
}

export const WAIT_CALLS: WaitCalls = {
  sleep: (ms, o) => suspend({ sleep_ms: ms }, o && { checkpoint: o.checkpoint }),
  continueAt: (at, o) =>
    suspend({ until: at instanceof Date ? at.toISOString() : at }, o && { checkpoint: o.checkpoint }),
  waitForSignal: (name, o) => suspend({ signal: name }, o),
  waitForApproval: (o) => suspend({ approval: true }, o),
  waitForChildren: (mode = 'all', o = {}) =>
    suspend(
      {
        children: mode,
        ...(o.onChildFailure === undefined ? {} : { on_child_failure: o.onChildFailure }),
        ...(o.childRetries === undefined ? {} : { child_retries: o.childRetries }),
      },
      o,
    ),
};
