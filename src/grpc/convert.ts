/** Between the hub's records and the proto messages (JSON values travel as JSON text). */
import { invalid, type Agent, type ProgressRecord, type Task } from '../domain/index.js';

export interface ProtoNewTask {
  title: string;
  description: string;
  type: string;
  priority: string;
  required_capabilities: Array<{ name: string; min_proficiency: number }>;
  payload_json: string;
  max_attempts: number;
  timeout_ms: number;
  run_at: string;
  depends_on: string[];
  idempotency_key: string;
  concurrency_keys?: string[];
  fairness_key?: string;
  cost?: Record<string, number>;
  parent_id?: string;
  wait_for_json?: string;
}

/** A proto string field as a string ('' when absent or not a string). */
export function text(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

export function parseJsonField(text: string, field: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalid(field, 'expected JSON text');
  }
}

/**
 * A proto NewTask as the API's JSON submission (proto3 defaults, '' and 0, are
 * "not given"); the API validates it. `payload_json` is decoded here, as it is
 * the wire's encoding of the payload.
 */
export function protoTaskBody(t: ProtoNewTask | null | undefined, field = 'task'): Record<string, unknown> {
  if (t === null || t === undefined) throw invalid(field, 'is required');
  const body: Record<string, unknown> = {
    required_capabilities: t.required_capabilities,
    payload: parseJsonField(t.payload_json, `${field}.payload_json`),
    depends_on: t.depends_on,
  };
  if (t.title !== '') body['title'] = t.title;
  if (t.description !== '') body['description'] = t.description;
  if (t.type !== '') body['type'] = t.type;
  if (t.priority !== '') body['priority'] = t.priority;
  if (t.max_attempts !== 0) body['max_attempts'] = t.max_attempts;
  if (t.timeout_ms !== 0) body['timeout_ms'] = t.timeout_ms;
  if (t.run_at !== '') body['run_at'] = t.run_at;
  if ((t.concurrency_keys ?? []).length > 0) body['concurrency_key'] = t.concurrency_keys;
  if ((t.fairness_key ?? '') !== '') body['fairness_key'] = t.fairness_key;
  if (Object.keys(t.cost ?? {}).length > 0) body['cost'] = t.cost;
  if ((t.parent_id ?? '') !== '') body['parent_id'] = t.parent_id;
  if ((t.wait_for_json ?? '') !== '')
    body['wait_for'] = parseJsonField(t.wait_for_json ?? '', `${field}.wait_for_json`);
  return body;
}

/** A proto string field: undefined when empty (proto3 cannot tell "" from absent). */
export function given(v: unknown): unknown {
  return v === '' || v === undefined ? undefined : v;
}

/** A proto integer field: undefined when 0 (proto3's default). */
export function givenInt(v: unknown): unknown {
  return v === 0 || v === undefined ? undefined : v;
}

export function taskToProto(t: Task): Record<string, unknown> {
  return {
    id: t.id,
    title: t.title,
    description: t.description,
    type: t.type,
    priority: t.priority,
    status: t.status,
    required_capabilities: t.required_capabilities,
    payload_json: JSON.stringify(t.payload ?? null),
    result_json: JSON.stringify(t.result ?? null),
    error: t.error ?? undefined,
    assigned_agent: t.assigned_agent ?? '',
    attempts: t.attempts,
    max_attempts: t.max_attempts,
    timeout_ms: t.timeout_ms,
    run_at: t.run_at ?? '',
    created_at: t.created_at,
    started_at: t.started_at ?? '',
    completed_at: t.completed_at ?? '',
    idempotency_key: t.idempotency_key ?? '',
    inferred_capabilities: t.inferred_capabilities ?? [],
    concurrency_keys: t.concurrency_keys,
    fairness_key: t.fairness_key ?? '',
    cost: t.cost ?? {},
    usage: t.usage ?? {},
    parent_id: t.parent_id ?? '',
    wait_for_json: JSON.stringify(t.wait_for ?? null),
    wake_at: t.wake_at ?? '',
    checkpoint_json: JSON.stringify(t.checkpoint ?? null),
    resume_json: JSON.stringify(t.resume ?? null),
    progress_json: JSON.stringify(t.progress ?? null),
    schedule_id: t.schedule_id ?? '',
  };
}

export function progressToProto(p: ProgressRecord): Record<string, unknown> {
  return {
    task_id: p.task_id,
    seq: p.seq,
    percent: p.percent ?? -1,
    message: p.message ?? '',
    chunk: p.chunk ?? '',
    at: p.at,
  };
}

export function agentToProto(
  a: Agent & { running_tasks?: number; connected_since?: string; labels?: Record<string, string> },
): Record<string, unknown> {
  return {
    id: a.id,
    name: a.name,
    type: a.type,
    state: a.state,
    kind: a.kind,
    capabilities: a.capabilities,
    node_id: a.node_id,
    paused: a.paused,
    max_concurrency: a.max_concurrency,
    running_tasks: a.running_tasks ?? 0,
    tasks_completed: a.stats.tasks_completed,
    tasks_failed: a.stats.tasks_failed,
    success_rate: a.stats.success_rate,
    connected_since: a.connected_since ?? '',
    labels: a.labels ?? {},
  };
}
