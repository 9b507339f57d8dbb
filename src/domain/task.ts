import { asInput, capabilityName, int, invalid, list, oneOf, str, unit, type Input } from './validate.js';
import type { TaskStatus } from './task-state.js';
import { checkJsonValue, checkNoNul } from './json-value.js';
import { EMPTY_POLICY, parseAmounts, parseConcurrencyKeys, parseFairnessKey, type Amounts } from './flow.js';
import { parseSubmittedWait, type Resume, type WaitFor, type WaitSpec } from './workflow.js';
import type { ProgressRecord } from './progress.js';

export const PRIORITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Higher runs first. */
export const PRIORITY_RANK: Readonly<Record<Priority, number>> = { low: 0, medium: 1, high: 2, critical: 3 };

export interface RequiredCapability {
  name: string;
  min_proficiency: number;
}

export interface Task {
  id: string;
  title: string;
  description: string;
  type: string;
  priority: Priority;
  status: TaskStatus;
  required_capabilities: RequiredCapability[];
  payload: unknown;
  result: unknown;
  error: { code: string; message: string; retryable: boolean } | null;
  assigned_agent: string | null;
  attempts: number;
  max_attempts: number;
  timeout_ms: number;
  run_at: string | null;
  lease_owner: string | null;
  lease_expires_at: string | null;
  lease_epoch: number;
  idempotency_key: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  completed_at: string | null;
  /** When this node claimed it for an agent (the current attempt). */
  claimed_at: string | null;
  /** Submitted without required capabilities: those the neural processor inferred from its text (a matching preference, not a requirement). */
  inferred_capabilities: InferredCapability[] | null;
  /** Flow control (docs/flow-control.md): the keys whose limits apply, the tenant (null: the default one), the estimate reserved at dispatch, the usage reported. */
  concurrency_keys: string[];
  fairness_key: string | null;
  cost: Amounts | null;
  usage: Amounts | null;
  /** Workflows (docs/workflows.md): the task that created it, what it waits for (status waiting) and until when, the state its last attempt saved, what woke it, its latest progress, the schedule that fired it. */
  parent_id: string | null;
  wait_for: WaitFor | null;
  wake_at: string | null;
  checkpoint: unknown;
  resume: Resume | null;
  progress: Omit<ProgressRecord, 'task_id' | 'chunk'> | null;
  schedule_id: string | null;
}

export interface InferredCapability {
  name: string;
  probability: number;
}

/** A validated task submission, before the store gives it an id. */
export interface NewTask {
  title: string;
  description: string;
  type: string;
  priority: Priority;
  required_capabilities: RequiredCapability[];
  payload: unknown;
  max_attempts: number;
  timeout_ms: number;
  run_at: string | null;
  idempotency_key: string | null;
  /** Ids of tasks that must complete first (resolved and checked by the store). */
  depends_on: string[];
  /** An id chosen before storing (bulk submissions whose items refer to each other); the store picks one otherwise. */
  id?: string;
  /** Set by task_management before storing (never by a client). */
  inferred_capabilities?: InferredCapability[] | null;
  /** Flow control; absent: none (the default tenant, no keys, no cost). */
  concurrency_keys?: string[];
  /** '' (DEFAULT_TENANT): none given. */
  fairness_key?: string;
  cost?: Amounts | null;
  /** The parent task (a child task); in a bulk submission also another item's key. */
  parent_id?: string | null;
  /** Stored waiting for this (a signal or an approval) before its first attempt. */
  wait?: WaitSpec | null;
  /** Fired by this schedule (set by the scheduler, never by a client). */
  schedule_id?: string | null;
}

export interface TaskDefaults {
  maxAttempts: number;
  timeoutMs: number;
  /** The units a cost may name ([flow] units). */
  units?: readonly string[];
}

/** The submission defaults from the configuration ([tasks] max_attempts, default_timeout_ms; [flow] units). */
export function taskDefaultsOf(c: {
  tasks: { max_attempts: number; default_timeout_ms: number };
  flow: { units: readonly string[] };
}): TaskDefaults {
  return { maxAttempts: c.tasks.max_attempts, timeoutMs: c.tasks.default_timeout_ms, units: c.flow.units };
}

/** Whether a task takes part in flow control beyond fair share (a key or a cost): such tasks are claimed, never handed off. */
export function isFlowed(t: { concurrency_keys?: readonly string[]; cost?: Amounts | null }): boolean {
  return (t.concurrency_keys?.length ?? 0) > 0 || (t.cost ?? null) !== null;
}

const FIELDS = [
  'title',
  'description',
  'type',
  'priority',
  'required_capabilities',
  'payload',
  'max_attempts',
  'timeout_ms',
  'run_at',
  'depends_on',
  'concurrency_key',
  'fairness_key',
  'cost',
  'parent_id',
  'wait_for',
];

/** Bulk items' idempotency keys live under this prefix, so that no single submission's key can meet one. */
export const BULK_KEY_PREFIX = 'bulk:';
/** Schedules' ticks have keys under this prefix (one task per tick). */
export const SCHEDULE_KEY_PREFIX = 'schedule:';

/** Validates a caller's Idempotency-Key: 1 to 255 characters, no NUL, not in the bulk items' namespace. */
export function checkIdempotencyKey(key: string): string {
  if (key.length === 0 || key.length > 255) throw invalid('Idempotency-Key', 'must be 1 to 255 characters');
  checkNoNul(key, 'Idempotency-Key');
  for (const prefix of [BULK_KEY_PREFIX, SCHEDULE_KEY_PREFIX])
    if (key.startsWith(prefix))
      throw invalid(
        'Idempotency-Key',
        `keys starting with "${prefix}" are reserved for ${prefix === BULK_KEY_PREFIX ? 'the items of bulk submissions' : "schedules' ticks"}`,
      );
  return key;
}

/** The idempotency key of item `index` of a bulk submission sent with `key`. */
export function bulkItemKey(key: string, index: number): string {
  return `${BULK_KEY_PREFIX}${key}:${index}`;
}

/** Most dependencies one task may have. */
export const MAX_DEPENDENCIES = 100;

/** Validates a submission; throws VALIDATION_FAILED naming the field. */
export function parseNewTask(
  body: unknown,
  defaults: TaskDefaults,
  idempotencyKey: string | null = null,
  extraFields: readonly string[] = [],
): NewTask {
  const input = asInput(body, '(body)', [...FIELDS, ...extraFields]);
  if (idempotencyKey !== null) checkIdempotencyKey(idempotencyKey);
  return {
    title: str(input, 'title', { required: true, maxLength: 256 }),
    description: str(input, 'description', { required: false, maxLength: 16_384 }),
    type: str(input, 'type', { required: false, maxLength: 64, fallback: 'general' }) || 'general',
    priority: oneOf(input, 'priority', PRIORITIES, 'medium'),
    required_capabilities: parseRequired(list(input, 'required_capabilities', 32)),
    payload: checkJsonValue(input['payload'] ?? null, 'payload'),
    max_attempts: int(input, 'max_attempts', 1, 1000, defaults.maxAttempts),
    timeout_ms: int(input, 'timeout_ms', 1, 86_400_000, defaults.timeoutMs),
    run_at: parseRunAt(input),
    idempotency_key: idempotencyKey,
    depends_on: parseDependsOn(list(input, 'depends_on', MAX_DEPENDENCIES)),
    concurrency_keys: parseConcurrencyKeys(input['concurrency_key']),
    fairness_key: parseFairnessKey(input['fairness_key']),
    cost: parseAmounts(input['cost'], 'cost', defaults.units ?? EMPTY_POLICY.units),
    parent_id: parseParentId(input['parent_id']),
    wait: parseSubmittedWait(input['wait_for'], Date.now()),
  };
}

/** A parent reference: a task id (or, in a bulk submission, another item's key; planBulk resolves it). */
function parseParentId(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length === 0 || v.length > 64) throw invalid('parent_id', 'expected a task id');
  return v;
}

/** Dependency references: task ids (or, in a bulk submission, keys of other items); unique. */
function parseDependsOn(items: readonly unknown[]): string[] {
  const seen = new Set<string>();
  return items.map((item, i) => {
    if (typeof item !== 'string' || item.length === 0 || item.length > 64)
      throw invalid(`depends_on[${i}]`, 'expected a task id');
    if (seen.has(item)) throw invalid(`depends_on[${i}]`, `duplicate dependency ${JSON.stringify(item)}`);
    seen.add(item);
    return item;
  });
}

function parseRequired(items: readonly unknown[]): RequiredCapability[] {
  const seen = new Set<string>();
  return items.map((item, i) => {
    const field = `required_capabilities[${i}]`;
    const req =
      typeof item === 'string'
        ? { name: capabilityName(item, field), min_proficiency: 0 }
        : parseRequiredObject(item, field);
    if (seen.has(req.name)) throw invalid(`${field}.name`, `duplicate capability "${req.name}"`);
    seen.add(req.name);
    return req;
  });
}

function parseRequiredObject(item: unknown, field: string): RequiredCapability {
  const input = asInput(item, field, ['name', 'min_proficiency']);
  return {
    name: capabilityName(input['name'], `${field}.name`),
    min_proficiency:
      input['min_proficiency'] === undefined ? 0 : unit(input['min_proficiency'], `${field}.min_proficiency`),
  };
}

function parseRunAt(input: Input): string | null {
  const v = input['run_at'];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) throw invalid('run_at', 'expected an ISO 8601 timestamp');
  return new Date(v).toISOString();
}
