/** Workflow messages of AgentService (WaitRequest, TaskProgress) as the hub's values; a bad one throws VALIDATION_FAILED naming the field. */
import { parseWaitRequest, type ProgressReport } from '../domain/index.js';
import { Suspend } from '../engine/handler.js';
import { parseJsonField, text } from './convert.js';

/** A TaskResult's wait (proto3 defaults: '' and 0 are "not given"). */
export function protoWait(w: Record<string, unknown>, checkpointJson: string): Suspend {
  const body: Record<string, unknown> = {};
  const int = (k: string): number => Number(w[k] ?? 0);
  if (int('sleep_ms') > 0) body['sleep_ms'] = int('sleep_ms');
  if (text(w['until']) !== '') body['until'] = text(w['until']);
  if (text(w['signal']) !== '') body['signal'] = text(w['signal']);
  if (w['approval'] === true) body['approval'] = true;
  if (text(w['children']) !== '') body['children'] = text(w['children']);
  if (text(w['on_child_failure']) !== '') body['on_child_failure'] = text(w['on_child_failure']);
  if (int('child_retries') > 0) body['child_retries'] = int('child_retries');
  if (int('timeout_ms') > 0) body['timeout_ms'] = int('timeout_ms');
  // A sleep of 0 is a wait too: with nothing else given, sleep_ms 0.
  if (Object.keys(body).length === 0) body['sleep_ms'] = 0;
  body['checkpoint'] = parseJsonField(checkpointJson, 'checkpoint_json');
  return new Suspend(parseWaitRequest(body, 'wait', Date.now()));
}

/** A TaskProgress: percent wins; the older progress (0..1) counts as a fraction. */
export function protoProgress(m: Record<string, unknown>): Partial<ProgressReport> {
  const percent = Number(m['percent'] ?? 0);
  const fraction = Number(m['progress'] ?? 0);
  const out: Partial<ProgressReport> = {};
  if (percent !== 0) out.percent = percent;
  else if (fraction !== 0) out.percent = fraction * 100;
  if (text(m['message']) !== '') out.message = text(m['message']);
  if (text(m['chunk']) !== '') out.chunk = text(m['chunk']);
  return out;
}
