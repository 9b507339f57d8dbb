/** /api/agents over HTTP: a codec over src/api/agents.ts. */
import type { AgentsApi } from '../../api/agents.js';
import type { AgentView } from '../../../actors/agent-management/messages.js';
import { ok } from '../envelope.js';
import { decodeQuery } from '../query.js';
import type { Router } from '../router.js';

const LIST_QUERY = {
  state: 'string',
  type: 'string',
  kind: 'string',
  capability: 'string',
  limit: 'int',
  offset: 'int',
} as const;

// size: the route table of /api/agents, one entry per route.
export function agentRoutes(router: Router, api: AgentsApi): void {
  const one = (agent: AgentView, status = 200): { status: number; body: unknown } => ({ status, body: ok(agent) });

  router.add(
    'GET',
    '/api/agents',
    'List agents; filters state, type, kind, capability; paging limit, offset',
    async (req) => {
      const page = await api.list(decodeQuery(req.query, LIST_QUERY));
      return {
        status: 200,
        body: ok({ agents: page.items, total: page.total, limit: page.limit, offset: page.offset }),
      };
    },
    { query: true },
  );

  router.add('POST', '/api/agents', 'Register an in-process agent of a configured executor kind', async (req) =>
    one(await api.register(req.body), 201),
  );

  router.add('GET', '/api/agents/:id', 'One agent with its stats and running task count', async (req) =>
    one(await api.get(req.params['id'])),
  );

  router.add('PATCH', '/api/agents/:id', 'Change name, type, capabilities or max_concurrency', async (req) =>
    one(await api.update(req.params['id'], req.body)),
  );

  router.add('DELETE', '/api/agents/:id', 'Remove an agent; its running tasks are aborted and requeued', async (req) =>
    one(await api.remove(req.params['id'])),
  );

  for (const [action, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    const summary = paused ? 'Pause an agent: it finishes what it runs and takes nothing new' : 'Resume a paused agent';
    router.add('POST', `/api/agents/:id/${action}`, summary, async (req) =>
      one(await api.setPaused(req.params['id'], paused)),
    );
  }

  router.add(
    'POST',
    '/api/agents/:id/drain',
    'Drain an agent: pause it, give its queued tasks to others, answer once it runs nothing; body {timeout_ms?}',
    async (req) => one(await api.drain(req.params['id'], req.body)),
  );

  router.add(
    'POST',
    '/api/agents/:id/cancel',
    "Take an agent's work away: its running and queued tasks go back to pending for other agents; body {reason?}",
    async (req) => one(await api.cancelWork(req.params['id'], req.body)),
  );

  router.add(
    'POST',
    '/api/agents/:id/restart',
    "Restart an agent's actor (state rebuilt from storage); a failed agent takes work again",
    async (req) => one(await api.restart(req.params['id'])),
  );
}
