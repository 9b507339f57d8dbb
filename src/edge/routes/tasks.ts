/** /api/tasks: submit (one or many), list, read, cancel, retry and assign tasks. */
import {
  PRIORITIES,
  TASK_STATUSES,
  bulkItemKey,
  checkIdempotencyKey,
  parseNewTask,
  planBulk,
  invalid,
  type NewTask,
  type Priority,
  type Task,
  type TaskStatus,
} from '../../domain/index.js';
import type { HubConfig } from '../../config/index.js';
import { HubError } from '../../errors/index.js';
import type { ReplyTo } from '../../runtime/index.js';
import type { Page } from '../../storage/index.js';
import type { Hive } from '../../../actors/hive/hive.js';
import type { Redriven, Submitted, TaskDetail, TaskManagementMsg } from '../../../actors/task-distributor/messages.js';
import { ok } from '../envelope.js';
import { PAGING, parseQuery, pathId } from '../query.js';
import type { EdgeRequest, Router } from '../router.js';

const MAX_BULK = 1000;

function idempotencyKey(req: EdgeRequest): string | null {
  return req.headers['idempotency-key'] ?? null;
}

function object(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('(body)', 'expected a JSON object');
  for (const k of Object.keys(body)) if (!allowed.includes(k)) throw invalid(k, 'unknown field');
  return body as Record<string, unknown>;
}

function uuidField(input: Record<string, unknown>, key: string): string {
  return uuidValue(input[key], key);
}

function uuidValue(v: unknown, key: string): string {
  if (typeof v !== 'string')
    throw invalid(key, v === undefined ? 'is required' : `expected a UUID string, got ${typeof v}`);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v))
    throw invalid(key, `expected a UUID, got ${JSON.stringify(v.slice(0, 64))}`);
  return v.toLowerCase();
}

/**
 * Parses bulk items; a bad item fails the whole request, naming tasks[i].field.
 * Items may name themselves (`key`) and depend on each other by key; returns them
 * in insertion order (dependencies first) with the request order of each.
 */
function parseBulk(body: unknown, config: HubConfig, key: string | null): { tasks: NewTask[]; order: number[] } {
  if (key !== null) checkIdempotencyKey(key);
  const input = object(body, ['tasks']);
  const items = input['tasks'];
  if (!Array.isArray(items)) throw invalid('tasks', 'expected an array of tasks');
  if (items.length === 0 || items.length > MAX_BULK)
    throw invalid('tasks', `expected 1 to ${MAX_BULK} tasks, got ${items.length}`);
  const keys: Array<string | undefined> = [];
  const tasks = items.map((item, i) => {
    try {
      const k = (item as { key?: unknown } | null)?.key;
      if (k !== undefined && typeof k !== 'string') throw invalid('key', 'expected a string');
      keys.push(k);
      const task = parseNewTask(
        item,
        { maxAttempts: config.tasks.max_attempts, timeoutMs: config.tasks.default_timeout_ms },
        null,
        ['key'],
      );
      return key === null ? task : { ...task, idempotency_key: bulkItemKey(key, i) };
    } catch (err) {
      if (!(err instanceof HubError) || err.code !== 'VALIDATION_FAILED') throw err;
      const inner = err.details?.['field'];
      const field = `tasks[${i}].${typeof inner === 'string' ? inner : ''}`;
      throw new HubError('VALIDATION_FAILED', `tasks[${i}].${err.message}`, { details: { field, index: i } });
    }
  });
  const order = planBulk(tasks, keys);
  return { tasks: order.map((i) => tasks[i] as NewTask), order };
}

export function taskRoutes(router: Router, hive: Hive, config: HubConfig): void {
  const ask = <R>(build: (replyTo: ReplyTo<R>) => TaskManagementMsg): Promise<R> =>
    hive.ask(hive.modules.task_management, build);
  const defaults = { maxAttempts: config.tasks.max_attempts, timeoutMs: config.tasks.default_timeout_ms };
  const listSpec = {
    status: { kind: 'enum', values: TASK_STATUSES },
    priority: { kind: 'enum', values: PRIORITIES },
    agent: { kind: 'uuid' },
    capability: { kind: 'name' },
    order: { kind: 'enum', values: ['asc', 'desc'] },
    ...PAGING,
  } as const;

  const list = async (req: EdgeRequest, fixed?: TaskStatus): Promise<{ status: number; body: unknown }> => {
    const q = parseQuery(
      req.query,
      fixed === undefined
        ? listSpec
        : { priority: listSpec.priority, capability: listSpec.capability, order: listSpec.order, ...PAGING },
    );
    const limit = q.limit ?? 100;
    const offset = q.offset ?? 0;
    const status = fixed ?? ((q as { status?: string }).status as TaskStatus | undefined);
    const filter = {
      order: q.order as 'asc' | 'desc' | undefined,
      status,
      priority: q.priority as Priority | undefined,
      agent: (q as { agent?: string }).agent,
      capability: q.capability,
      limit,
      offset,
    };
    const page = await ask((replyTo: ReplyTo<Page<Task>>): TaskManagementMsg => ({
      type: 'task.list',
      filter,
      replyTo,
    }));
    return { status: 200, body: ok({ tasks: page.items, total: page.total, limit, offset }) };
  };

  router.add(
    'GET',
    '/api/tasks',
    'List tasks; filters status, priority, agent, capability; paging limit, offset',
    (req) => list(req),
    { query: true },
  );
  router.add(
    'GET',
    '/api/tasks/pending',
    'Tasks waiting for an agent, with their required capabilities',
    (req) => list(req, 'pending'),
    { query: true },
  );

  router.add(
    'POST',
    '/api/tasks',
    'Submit a task (201; 200 with the original when the Idempotency-Key was used before)',
    async (req) => {
      const task = parseNewTask(req.body, defaults, idempotencyKey(req));
      const r = await ask((replyTo: ReplyTo<Submitted>): TaskManagementMsg => ({ type: 'task.submit', task, replyTo }));
      return { status: r.created ? 201 : 200, body: ok(r.task) };
    },
  );

  router.add('POST', '/api/tasks/bulk', `Submit 1 to ${MAX_BULK} tasks in one request`, async (req) => {
    const { tasks, order } = parseBulk(req.body, config, idempotencyKey(req));
    const stored = await ask((replyTo: ReplyTo<Submitted[]>): TaskManagementMsg => ({
      type: 'task.submit_bulk',
      tasks,
      replyTo,
    }));
    // Answer in request order (they were stored dependencies first).
    const r: Submitted[] = new Array<Submitted>(stored.length);
    order.forEach((requestIndex, storedIndex) => (r[requestIndex] = stored[storedIndex] as Submitted));
    const created = r.filter((x) => x.created).length;
    return {
      status: created > 0 ? 201 : 200,
      body: ok({ tasks: r.map((x) => x.task), created, deduplicated: r.length - created }),
    };
  });

  router.add(
    'POST',
    '/api/tasks/redrive',
    'Put dead (or failed) tasks back to pending: the ids given, or the oldest limit',
    async (req) => {
      const input = object(req.body === undefined ? {} : req.body, ['status', 'ids', 'limit']);
      const status = input['status'] ?? 'dead';
      if (status !== 'dead' && status !== 'failed')
        throw invalid('status', `expected "dead" or "failed", got ${JSON.stringify(status)}`);
      let ids: string[] | undefined;
      if (input['ids'] !== undefined) {
        if (!Array.isArray(input['ids']) || input['ids'].length === 0 || input['ids'].length > MAX_BULK)
          throw invalid('ids', `expected an array of 1 to ${MAX_BULK} task ids`);
        ids = input['ids'].map((v: unknown, i) => uuidValue(v, `ids[${i}]`));
      }
      const limit = input['limit'] ?? 100;
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_BULK)
        throw invalid('limit', `expected an integer from 1 to ${MAX_BULK}`);
      const r = await ask((replyTo: ReplyTo<Redriven>): TaskManagementMsg => ({
        type: 'task.redrive',
        status,
        ids,
        limit,
        replyTo,
      }));
      return { status: 200, body: ok(r) };
    },
  );

  router.add('POST', '/api/tasks/assign', 'Assign a pending task to a local agent by hand (debugging)', async (req) => {
    const input = object(req.body === undefined ? {} : req.body, ['task_id', 'agent_id']);
    const taskId = uuidField(input, 'task_id');
    const agentId = uuidField(input, 'agent_id');
    const task = await ask((replyTo: ReplyTo<Task>): TaskManagementMsg => ({
      type: 'task.assign',
      taskId,
      agentId,
      replyTo,
    }));
    return { status: 200, body: ok(task) };
  });

  router.add('GET', '/api/tasks/:id', 'One task with its result or error and its event history', async (req) => {
    const id = pathId(req.params);
    return {
      status: 200,
      body: ok(await ask((replyTo: ReplyTo<TaskDetail>): TaskManagementMsg => ({ type: 'task.get', id, replyTo }))),
    };
  });

  router.add(
    'POST',
    '/api/tasks/:id/cancel',
    'Cancel a task that has not ended (a running handler is aborted)',
    async (req) => {
      const id = pathId(req.params);
      const input = req.body === undefined ? {} : object(req.body, ['reason']);
      const r = input['reason'];
      if (r !== undefined && (typeof r !== 'string' || r.length > 512))
        throw invalid('reason', 'expected a string of at most 512 characters');
      const reason = typeof r === 'string' && r !== '' ? r : 'cancelled by request';
      return {
        status: 200,
        body: ok(
          await ask((replyTo: ReplyTo<Task>): TaskManagementMsg => ({ type: 'task.cancel', id, reason, replyTo })),
        ),
      };
    },
  );

  router.add('POST', '/api/tasks/:id/retry', 'Put a failed or dead task back to pending', async (req) => {
    const id = pathId(req.params);
    return {
      status: 200,
      body: ok(await ask((replyTo: ReplyTo<Task>): TaskManagementMsg => ({ type: 'task.retry', id, replyTo }))),
    };
  });
}
