/**
 * Tasks, transport-neutral: submit (one or many), get, list, cancel, retry,
 * redrive and assign. Every transport decodes its request into the values
 * here and encodes what they return; the rules live only here and in the domain.
 */
import {
  PRIORITIES,
  TASK_STATUSES,
  bulkItemKey,
  checkIdempotencyKey,
  invalid,
  parseNewTask,
  taskDefaultsOf,
  planBulk,
  type Explanation,
  type NewTask,
  type Priority,
  type TaskDefaults,
  type Task,
  type TaskStatus,
} from '../domain/index.js';
import type { HubConfig } from '../config/index.js';
import { TASK_SORTS, type ErrorGroup, type Page, type TaskFilter } from '../storage/index.js';
import type { Hive } from '../../actors/hive/hive.js';
import type { FitView } from '../../actors/task-distributor/views.js';
import type { Redriven, Submitted, TaskDetail } from '../../actors/task-distributor/messages.js';
import { moduleAsker, type CallOptions } from './ask.js';
import {
  MAX_BULK,
  bulk,
  fields,
  underField,
  integer,
  oneOf,
  optionalName,
  optionalUuid,
  paging,
  reason,
  uuid,
} from './validate.js';

/** A list request as decoded (undefined: not given). */
export interface TaskListRequest {
  status?: unknown;
  priority?: unknown;
  agent?: unknown;
  capability?: unknown;
  concurrency_key?: unknown;
  tenant?: unknown;
  error_code?: unknown;
  q?: unknown;
  since?: unknown;
  until?: unknown;
  sort?: unknown;
  order?: unknown;
  limit?: unknown;
  offset?: unknown;
}

/** A text filter: at most 200 characters, no NUL. */
function optionalText(value: unknown, field: string, max: number): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || value.length > max || value.includes('\0'))
    throw invalid(field, `expected text of at most ${max} characters`);
  return value;
}

/** An instant as ISO 8601 (any offset), stored as UTC ISO. */
function optionalInstant(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw invalid(field, `expected an ISO 8601 instant, got ${JSON.stringify(value)}`);
  return new Date(ms).toISOString();
}

/** The list's filters beyond status, priority, agent and capability. */
function listFilters(q: TaskListRequest): Partial<TaskFilter> {
  return {
    concurrency_key: optionalText(q.concurrency_key, 'concurrency_key', 200),
    fairness_key: optionalText(q.tenant, 'tenant', 200),
    error_code: optionalName(q.error_code, 'error_code'),
    text: optionalText(q.q, 'q', 200),
    created_after: optionalInstant(q.since, 'since'),
    created_before: optionalInstant(q.until, 'until'),
    sort: oneOf(q.sort, TASK_SORTS, 'sort'),
  };
}

export interface BulkSubmitted {
  tasks: Task[];
  created: number;
  deduplicated: number;
}

export class TasksApi {
  private readonly defaults: TaskDefaults;
  private readonly ask;

  constructor(hive: Hive, config: HubConfig) {
    this.defaults = taskDefaultsOf(config);
    this.ask = moduleAsker(hive, 'task_management');
  }

  /** One submission; `created` false: the idempotency key was used before (the original is returned). */
  submit(body: unknown, idempotencyKey: string | null, o?: CallOptions): Promise<Submitted> {
    const task = parseNewTask(body, this.defaults, idempotencyKey);
    return this.ask('task.submit', { task }, o);
  }

  /**
   * `{tasks}`: 1 to MAX_BULK submissions, stored all or none. Items may name themselves
   * (`key`) and depend on each other by key. With a request key, item i's key is
   * derived from it; `itemKeys` gives each item its own instead. Answered in
   * request order.
   */
  async submitBulk(
    body: unknown,
    keys: { request?: string | null; items?: ReadonlyArray<string | null> },
    o?: CallOptions,
  ): Promise<BulkSubmitted> {
    const { tasks, order } = this.parseBulk(fields(body, ['tasks'], true)['tasks'], keys);
    const stored = await this.ask('task.submit_bulk', { tasks }, o);
    const r: Submitted[] = new Array<Submitted>(stored.length);
    order.forEach((requestIndex, storedIndex) => (r[requestIndex] = stored[storedIndex] as Submitted));
    const created = r.filter((x) => x.created).length;
    return { tasks: r.map((x) => x.task), created, deduplicated: r.length - created };
  }

  private parseBulk(
    value: unknown,
    keys: { request?: string | null; items?: ReadonlyArray<string | null> },
  ): { tasks: NewTask[]; order: number[] } {
    const request = keys.request ?? null;
    if (request !== null) checkIdempotencyKey(request);
    const items = bulk(value, 'tasks', 'tasks');
    const names: Array<string | undefined> = [];
    const tasks = items.map((item, i) =>
      inItem(i, () => {
        const k = (item as { key?: unknown } | null)?.key;
        if (k !== undefined && typeof k !== 'string') throw invalid('key', 'expected a string');
        names.push(k);
        const own = keys.items?.[i] ?? null;
        const task = parseNewTask(item, this.defaults, own, ['key']);
        return request === null ? task : { ...task, idempotency_key: bulkItemKey(request, i) };
      }),
    );
    const order = planBulk(tasks, names);
    return { tasks: order.map((i) => tasks[i] as NewTask), order };
  }

  /** Children of a task (a handler's ctx.spawn, an agent's SpawnTasks): submissions with the parent set. */
  async spawn(parentId: string, items: readonly unknown[], o?: CallOptions): Promise<Task[]> {
    const tasks = items.map((item, i) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item))
        throw invalid(`tasks[${i}]`, 'expected a JSON object');
      if ('parent_id' in item) throw invalid(`tasks[${i}].parent_id`, 'is set by spawn');
      return { ...item, parent_id: parentId };
    });
    return (await this.submitBulk({ tasks }, {}, o)).tasks;
  }

  get(id: unknown, o?: CallOptions): Promise<TaskDetail> {
    const taskId = uuid(id, 'id');
    return this.ask('task.get', { id: taskId }, o);
  }

  /** Why a task is not running: a stable code, a sentence, and what it refers to. */
  explain(id: unknown, o?: CallOptions): Promise<Explanation> {
    const taskId = uuid(id, 'id');
    return this.ask('task.explain', { id: taskId }, o);
  }

  /** How each agent of this node fits the task: declared score and the fit model's P(success). */
  fit(id: unknown, o?: CallOptions): Promise<FitView> {
    return this.ask('task.fit', { id: uuid(id, 'id') }, o);
  }

  /** A page of tasks; `fixed` pins the status (the pending view). */
  async list(
    q: TaskListRequest,
    o?: CallOptions,
    fixed?: TaskStatus,
  ): Promise<Page<Task> & { limit: number; offset: number }> {
    const { limit, offset } = paging(q.limit, q.offset);
    const filter = {
      status: fixed ?? oneOf<TaskStatus>(q.status, TASK_STATUSES, 'status'),
      priority: oneOf<Priority>(q.priority, PRIORITIES, 'priority'),
      agent: optionalUuid(q.agent, 'agent'),
      capability: optionalName(q.capability, 'capability'),
      ...listFilters(q),
      order: oneOf(q.order, ['asc', 'desc'] as const, 'order'),
      limit,
      offset,
    };
    // The pending view says why each task waits.
    const page = await (fixed === 'pending'
      ? this.ask('task.list_waiting', { filter }, o)
      : this.ask('task.list', { filter }, o));
    return { ...page, limit, offset };
  }

  /** Dead and failed tasks (or one of them: `status`) by error code, the largest group first (the dead-letter view). */
  errors(q: { status?: unknown; limit?: unknown }, o?: CallOptions): Promise<ErrorGroup[]> {
    const status = oneOf(q.status, ['dead', 'failed'] as const, 'status');
    const limit = q.limit === undefined ? 100 : integer(q.limit, 'limit', 1, 1000);
    return this.ask('task.errors', { statuses: status === undefined ? ['dead', 'failed'] : [status], limit }, o);
  }

  /** `{reason?}`: why, for the task's history. */
  cancel(id: unknown, body: unknown, o?: CallOptions): Promise<Task> {
    const taskId = uuid(id, 'id');
    const r = reason(fields(body, ['reason'])['reason'], 'cancelled by request');
    return this.ask('task.cancel', { id: taskId, reason: r }, o);
  }

  retry(id: unknown, o?: CallOptions): Promise<Task> {
    const taskId = uuid(id, 'id');
    return this.ask('task.retry', { id: taskId }, o);
  }

  /** Dead (or failed) tasks back to pending: the ids given, or the oldest `limit`. */
  redrive(body: unknown, o?: CallOptions): Promise<Redriven> {
    const input = fields(body, ['status', 'ids', 'limit']);
    const status = input['status'] ?? 'dead';
    if (status !== 'dead' && status !== 'failed')
      throw invalid('status', `expected "dead" or "failed", got ${JSON.stringify(status)}`);
    const ids =
      input['ids'] === undefined
        ? undefined
        : bulk(input['ids'], 'ids', 'task ids').map((v, i) => uuid(v, `ids[${i}]`));
    const limit = input['limit'] === undefined ? 100 : integer(input['limit'], 'limit', 1, MAX_BULK);
    return this.ask('task.redrive', { status, ids, limit }, o);
  }

  /** A pending task to a named local agent (debugging). */
  assign(body: unknown, o?: CallOptions): Promise<Task> {
    const input = fields(body, ['task_id', 'agent_id']);
    const taskId = uuid(input['task_id'], 'task_id');
    const agentId = uuid(input['agent_id'], 'agent_id');
    return this.ask('task.assign', { taskId, agentId }, o);
  }
}

/** Runs item i's parsing; its refusal names `tasks[i].<field>`. */
function inItem<T>(i: number, parse: () => T): T {
  return underField(`tasks[${i}]`, parse, { index: i });
}
