/** /api/agents: list, register, read, change, remove, pause and resume agents. */
import { AGENT_KINDS, AGENT_STATES, AGENT_TYPES, parseAgentUpdate, parseNewAgent } from '../../domain/index.js';
import type { ReplyTo } from '../../runtime/index.js';
import type { Page } from '../../storage/index.js';
import type { Hive } from '../../../actors/hive/hive.js';
import type { AgentManagementMsg, AgentView } from '../../../actors/agent-management/messages.js';
import { ok } from '../envelope.js';
import { PAGING, parseQuery, pathId } from '../query.js';
import type { Router } from '../router.js';

export function agentRoutes(router: Router, hive: Hive): void {
  const ask = <R>(build: (replyTo: ReplyTo<R>) => AgentManagementMsg): Promise<R> =>
    hive.ask(hive.modules.agent_management, build);
  const one = (agent: AgentView, status = 200): { status: number; body: unknown } => ({ status, body: ok(agent) });

  router.add(
    'GET',
    '/api/agents',
    'List agents; filters state, type, kind, capability; paging limit, offset',
    async (req) => {
      const q = parseQuery(req.query, {
        state: { kind: 'enum', values: AGENT_STATES },
        type: { kind: 'enum', values: AGENT_TYPES },
        kind: { kind: 'enum', values: AGENT_KINDS },
        capability: { kind: 'name' },
        ...PAGING,
      });
      const limit = q.limit ?? 100;
      const offset = q.offset ?? 0;
      const filter = {
        state: q.state as AgentView['state'] | undefined,
        type: q.type as AgentView['type'] | undefined,
        kind: q.kind as AgentView['kind'] | undefined,
        capability: q.capability,
        limit,
        offset,
      };
      const page = await ask((replyTo: ReplyTo<Page<AgentView>>): AgentManagementMsg => ({
        type: 'agent.list',
        filter,
        replyTo,
      }));
      return { status: 200, body: ok({ agents: page.items, total: page.total, limit, offset }) };
    },
    { query: true },
  );

  router.add('POST', '/api/agents', 'Register an in-process agent of a configured executor kind', async (req) => {
    const agent = parseNewAgent(req.body);
    return one(
      await ask((replyTo: ReplyTo<AgentView>): AgentManagementMsg => ({ type: 'agent.register', agent, replyTo })),
      201,
    );
  });

  router.add('GET', '/api/agents/:id', 'One agent with its stats and running task count', async (req) => {
    const id = pathId(req.params);
    return one(await ask((replyTo: ReplyTo<AgentView>): AgentManagementMsg => ({ type: 'agent.get', id, replyTo })));
  });

  router.add('PATCH', '/api/agents/:id', 'Change name, type, capabilities or max_concurrency', async (req) => {
    const id = pathId(req.params);
    const update = parseAgentUpdate(req.body);
    return one(
      await ask((replyTo: ReplyTo<AgentView>): AgentManagementMsg => ({ type: 'agent.update', id, update, replyTo })),
    );
  });

  router.add(
    'DELETE',
    '/api/agents/:id',
    'Remove an agent; its running tasks are aborted and requeued',
    async (req) => {
      const id = pathId(req.params);
      return one(
        await ask((replyTo: ReplyTo<AgentView>): AgentManagementMsg => ({ type: 'agent.remove', id, replyTo })),
      );
    },
  );

  for (const [action, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    const summary = paused ? 'Pause an agent: it finishes what it runs and takes nothing new' : 'Resume a paused agent';
    router.add('POST', `/api/agents/:id/${action}`, summary, async (req) => {
      const id = pathId(req.params);
      return one(
        await ask((replyTo: ReplyTo<AgentView>): AgentManagementMsg => ({
          type: 'agent.set_paused',
          id,
          paused,
          replyTo,
        })),
      );
    });
  }
}
