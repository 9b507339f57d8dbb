/** Workflows over HTTP (signals, approvals, trees, progress, schedules): a codec over src/api/workflows.ts. */
import type { WorkflowsApi } from '../../api/workflows.js';
import { ok } from '../envelope.js';
import { decodeQuery } from '../query.js';
import type { EdgeRequest, Router } from '../router.js';

const caller = (req: EdgeRequest): { name: string; roles: readonly string[]; ip: string | null } => ({
  name: req.principal.name,
  roles: req.principal.roles,
  ip: req.ip,
});

// size: the route table of workflows, one entry per route.
export function workflowRoutes(router: Router, api: WorkflowsApi): void {
  router.add(
    'POST',
    '/api/tasks/:id/signal',
    'Deliver a signal {name, payload} (kept until the task waits for it)',
    async (req) => ({
      status: 200,
      body: ok(await api.signal(req.params['id'], req.body, caller(req))),
    }),
  );
  router.add(
    'POST',
    '/api/tasks/:id/approve',
    'Approve a task waiting for approval {reason?} (needs [workflows] approver_role; audited)',
    async (req) => ({
      status: 200,
      body: ok(await api.decide(req.params['id'], true, req.body, caller(req))),
    }),
  );
  router.add(
    'POST',
    '/api/tasks/:id/reject',
    'Reject a task waiting for approval {reason?}: it fails (needs [workflows] approver_role; audited)',
    async (req) => ({
      status: 200,
      body: ok(await api.decide(req.params['id'], false, req.body, caller(req))),
    }),
  );
  router.add(
    'GET',
    '/api/tasks/:id/tree',
    'The task and its descendants with their statuses (limit: most nodes, default 1000)',
    async (req) => {
      const q = decodeQuery(req.query, { limit: 'int' });
      return { status: 200, body: ok(await api.tree(req.params['id'], q.limit)) };
    },
    { query: true },
  );
  router.add(
    'GET',
    '/api/tasks/:id/progress',
    "The task's stored progress records, oldest first (after: a seq; limit)",
    async (req) => {
      const q = decodeQuery(req.query, { after: 'int', limit: 'int' });
      return { status: 200, body: ok({ progress: await api.progress(req.params['id'], q.after, q.limit) }) };
    },
    { query: true },
  );
  router.add(
    'POST',
    '/api/schedules',
    'Create a schedule {name, cron | interval_ms, timezone, task, overlap, catchup, catchup_max, paused}',
    async (req) => ({
      status: 201,
      body: ok(await api.createSchedule(req.body)),
    }),
  );
  router.add('GET', '/api/schedules', 'Every schedule with next_run_at, fired and skipped', async () => ({
    status: 200,
    body: ok({ schedules: await api.listSchedules() }),
  }));
  router.add('GET', '/api/schedules/:id', 'One schedule (by id or name)', async (req) => ({
    status: 200,
    body: ok(await api.schedule(req.params['id'] ?? '')),
  }));
  router.add('POST', '/api/schedules/:id/pause', 'Pause a schedule (no ticks fire)', async (req) => ({
    status: 200,
    body: ok(await api.pause(req.params['id'] ?? '', true)),
  }));
  router.add(
    'POST',
    '/api/schedules/:id/resume',
    'Resume a schedule from now (missed ticks do not fire)',
    async (req) => ({
      status: 200,
      body: ok(await api.pause(req.params['id'] ?? '', false)),
    }),
  );
  router.add(
    'POST',
    '/api/schedules/:id/trigger',
    'Fire one tick now (the overlap policy applies; task null: skipped)',
    async (req) => ({
      status: 200,
      body: ok(await api.trigger(req.params['id'] ?? '')),
    }),
  );
  router.add('DELETE', '/api/schedules/:id', 'Delete a schedule (its tasks stay)', async (req) => ({
    status: 200,
    body: ok(await api.deleteSchedule(req.params['id'] ?? '')),
  }));
}
