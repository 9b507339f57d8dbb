/** /api/flow over HTTP and the usage report: a codec over src/api/flow.ts. */
import type { FlowApi } from '../../api/flow.js';
import { ok } from '../envelope.js';
import type { Router } from '../router.js';

export function flowRoutes(router: Router, api: FlowApi): void {
  router.add(
    'GET',
    '/api/flow',
    'Flow control: every key with its holders, waiting tasks, rules and buckets',
    async () => ({
      status: 200,
      body: ok({ keys: await api.keys() }),
    }),
  );
  router.add(
    'GET',
    '/api/flow/keys/:key',
    "One key's flow state: holders, waiting tasks, rules, buckets",
    async (req) => ({
      status: 200,
      body: ok(await api.key(req.params['key'])),
    }),
  );
  router.add(
    'PUT',
    '/api/flow/:kind/:key',
    "Set one key's run-time rule (kind concurrency {limit}, rate {limit, window_ms, burst}, budget {unit, per_minute, per_day})",
    async (req) => ({ status: 200, body: ok(await api.setRule(req.params['kind'], req.params['key'], req.body)) }),
  );
  router.add(
    'DELETE',
    '/api/flow/:kind/:key',
    "Remove one key's run-time rule (its configured pattern applies again)",
    async (req) => ({
      status: 200,
      body: ok(await api.clearRule(req.params['kind'], req.params['key'])),
    }),
  );
  router.add(
    'POST',
    '/api/tasks/:id/usage',
    'An agent reports what a task it runs used so far {agent_id, usage: {unit: amount}}; the last report counts',
    async (req) => ({ status: 200, body: ok(await api.reportUsage(req.params['id'], req.body)) }),
  );
}
