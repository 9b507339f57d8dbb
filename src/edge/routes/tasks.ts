/** /api/tasks over HTTP: a codec over src/api/tasks.ts (decode the request, encode the answer). */
import type { TaskStatus } from '../../domain/index.js';
import { MAX_BULK } from '../../api/validate.js';
import type { TasksApi } from '../../api/tasks.js';
import { ok } from '../envelope.js';
import { decodeQuery } from '../query.js';
import type { EdgeRequest, Router } from '../router.js';

/** The pending view's query: no status (it is pending) and no agent (pending tasks have none). */
const PENDING_QUERY = {
  priority: 'string',
  capability: 'string',
  order: 'string',
  limit: 'int',
  offset: 'int',
} as const;
const LIST_QUERY = {
  ...PENDING_QUERY,
  status: 'string',
  agent: 'string',
  concurrency_key: 'string',
  tenant: 'string',
  error_code: 'string',
  q: 'string',
  since: 'string',
  until: 'string',
  sort: 'string',
} as const;

function idempotencyKey(req: EdgeRequest): string | null {
  return req.headers['idempotency-key'] ?? null;
}

// size: the route table of /api/tasks, one entry per route.
export function taskRoutes(router: Router, api: TasksApi): void {
  const list = async (req: EdgeRequest, fixed?: TaskStatus): Promise<{ status: number; body: unknown }> => {
    const q = decodeQuery(req.query, fixed === undefined ? LIST_QUERY : PENDING_QUERY);
    const page = await api.list(q, {}, fixed);
    return { status: 200, body: ok({ tasks: page.items, total: page.total, limit: page.limit, offset: page.offset }) };
  };

  router.add(
    'GET',
    '/api/tasks',
    'List tasks; filters status, priority, agent, capability, concurrency_key, tenant, error_code, q (title text), since, until; sort, order; paging limit, offset',
    (req) => list(req),
    { query: true },
  );
  router.add(
    'GET',
    '/api/tasks/errors',
    'Dead and failed tasks counted by status and error code, the largest group first (?status= one of them; the dead-letter view)',
    async (req) => ({
      status: 200,
      body: ok({ groups: await api.errors(decodeQuery(req.query, { status: 'string', limit: 'int' })) }),
    }),
    { query: true },
  );
  router.add(
    'GET',
    '/api/tasks/pending',
    'Tasks waiting for an agent, with their required capabilities and why each waits (waiting {code, message})',
    (req) => list(req, 'pending'),
    { query: true },
  );

  router.add(
    'POST',
    '/api/tasks',
    'Submit a task (201; 200 with the original when the Idempotency-Key was used before)',
    async (req) => {
      const r = await api.submit(req.body, idempotencyKey(req));
      return { status: r.created ? 201 : 200, body: ok(r.task) };
    },
  );

  router.add('POST', '/api/tasks/bulk', `Submit 1 to ${MAX_BULK} tasks in one request`, async (req) => {
    const r = await api.submitBulk(req.body, { request: idempotencyKey(req) });
    return { status: r.created > 0 ? 201 : 200, body: ok(r) };
  });

  router.add(
    'POST',
    '/api/tasks/redrive',
    'Put dead (or failed) tasks back to pending: the ids given, or the oldest limit',
    async (req) => ({ status: 200, body: ok(await api.redrive(req.body)) }),
  );

  router.add(
    'POST',
    '/api/tasks/assign',
    'Assign a pending task to a local agent by hand (debugging)',
    async (req) => ({ status: 200, body: ok(await api.assign(req.body)) }),
  );

  router.add('GET', '/api/tasks/:id', 'One task with its result or error and its event history', async (req) => ({
    status: 200,
    body: ok(await api.get(req.params['id'])),
  }));

  router.add(
    'POST',
    '/api/tasks/:id/cancel',
    'Cancel a task that has not ended (a running handler is aborted)',
    async (req) => ({ status: 200, body: ok(await api.cancel(req.params['id'], req.body)) }),
  );

  router.add(
    'GET',
    '/api/tasks/:id/explain',
    'Why a task is not running: dependencies, run_at, agents, or its place in claim order',
    async (req) => ({ status: 200, body: ok(await api.explain(req.params['id'])) }),
  );

  router.add(
    'GET',
    '/api/tasks/:id/fit',
    'How each agent of this node fits the task: capable or the capability it lacks, declared score, fit model P(success), load',
    async (req) => ({ status: 200, body: ok(await api.fit(req.params['id'])) }),
  );

  router.add('POST', '/api/tasks/:id/retry', 'Put a failed or dead task back to pending', async (req) => ({
    status: 200,
    body: ok(await api.retry(req.params['id'])),
  }));
}
