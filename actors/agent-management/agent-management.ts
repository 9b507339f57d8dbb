/**
 * agent_management: the registry of this node's agents.
 * State: the node's agents by id, rebuilt from storage at every (re)start, plus
 * counters since start. Accepts AgentManagementMsg; stores every change before
 * replying, so a restart loses nothing.
 */
import { AGENT_STATES, parseCapabilities, type Agent, type NewAgent } from '../../src/domain/index.js';
import { HubError, assertNever } from '../../src/errors/index.js';
import type { ActorSpec } from '../../src/runtime/index.js';
import type { ModuleDeps } from '../shared/deps.js';
import { answer } from '../shared/answer.js';
import type { AgentManagementMsg, AgentSummary } from './messages.js';

/** Executor kinds built into the hub; more come from [agents.executors]. */
export const BUILTIN_EXECUTORS = ['echo', 'sleep', 'fail'] as const;

interface State {
  agents: Map<string, Agent>;
  registered: number;
  removed: number;
}

async function loadLocalAgents(deps: ModuleDeps): Promise<Map<string, Agent>> {
  const agents = new Map<string, Agent>();
  for (let offset = 0; ; offset += 500) {
    const page = await deps.store.listAgents({ nodeId: deps.nodeId, limit: 500, offset });
    for (const a of page.items) agents.set(a.id, a);
    if (page.items.length < 500) return agents;
  }
}

function checkExecutor(deps: ModuleDeps, agent: NewAgent): NewAgent {
  if (agent.kind === 'remote') return agent;
  const executor = agent.executor ?? deps.config.agents.default_executor;
  const known = [...BUILTIN_EXECUTORS, ...Object.keys(deps.config.agents.executors)];
  if (!known.includes(executor)) {
    throw new HubError('VALIDATION_FAILED', `executor: unknown executor "${executor}"; known: ${known.join(', ')}`, { details: { field: 'executor' } });
  }
  return { ...agent, executor };
}

async function register(deps: ModuleDeps, state: State, input: NewAgent): Promise<Agent> {
  if (state.agents.size >= deps.config.agents.max_agents) {
    throw new HubError('AGENT_LIMIT_REACHED', `this node already has ${state.agents.size} agents ([agents] max_agents = ${deps.config.agents.max_agents})`);
  }
  const agent = await deps.store.createAgent(checkExecutor(deps, input), deps.nodeId);
  state.agents.set(agent.id, agent);
  state.registered++;
  deps.log.info({ event: 'agent.registered', agent_id: agent.id, name: agent.name }, `agent ${agent.name} registered`);
  return agent;
}

async function getAgent(deps: ModuleDeps, id: string): Promise<Agent> {
  const agent = await deps.store.getAgent(id);
  if (agent === undefined) throw new HubError('AGENT_NOT_FOUND', `no agent with id ${id}`, { details: { agent_id: id } });
  return agent;
}

async function remove(deps: ModuleDeps, state: State, id: string): Promise<Agent> {
  const agent = await getAgent(deps, id);
  await deps.store.deleteAgent(id);
  state.agents.delete(id);
  state.removed++;
  deps.log.info({ event: 'agent.removed', agent_id: id }, `agent ${agent.name} removed`);
  return agent;
}

/** Creates the [agents] default pool: tops this node's pool agents up to default_pool_size. */
async function ensurePool(deps: ModuleDeps, state: State): Promise<Agent[]> {
  const { default_pool_size: size, default_executor: executor, default_capabilities: caps } = deps.config.agents;
  const existing = [...state.agents.values()].filter((a) => a.kind === 'local' && a.name.startsWith('pool-'));
  const created: Agent[] = [];
  for (let i = existing.length; i < size; i++) {
    const capabilities = parseCapabilities(caps, 'agents.default_capabilities');
    created.push(await register(deps, state, { name: `pool-${executor}-${i + 1}`, type: 'worker', capabilities, executor, kind: 'local' }));
  }
  return created;
}

function summarize(state: State): AgentSummary {
  const by_state = Object.fromEntries(AGENT_STATES.map((s) => [s, 0])) as AgentSummary['by_state'];
  let local = 0;
  for (const a of state.agents.values()) {
    by_state[a.state]++;
    if (a.kind === 'local') local++;
  }
  return { total: state.agents.size, by_state, local, remote: state.agents.size - local, registered_since_start: state.registered, removed_since_start: state.removed };
}

/** The agent_management module actor. */
export function agentManagementSpec(deps: ModuleDeps): ActorSpec<AgentManagementMsg, State> {
  return {
    name: 'agent_management',
    init: async () => ({ agents: await loadLocalAgents(deps), registered: 0, removed: 0 }),
    receive: async (state, msg) => {
      switch (msg.type) {
        case 'agent.register':
          await answer(msg.replyTo, () => register(deps, state, msg.agent));
          return state;
        case 'agent.get':
          await answer(msg.replyTo, () => getAgent(deps, msg.id));
          return state;
        case 'agent.list':
          await answer(msg.replyTo, () => deps.store.listAgents(msg.filter));
          return state;
        case 'agent.remove':
          await answer(msg.replyTo, () => remove(deps, state, msg.id));
          return state;
        case 'agent.summarize':
          msg.replyTo.ok(summarize(state));
          return state;
        case 'agent.ensure_pool':
          await answer(msg.replyTo, () => ensurePool(deps, state));
          return state;
        case 'module.ping':
          msg.replyTo.ok(true);
          return state;
        default:
          return assertNever(msg);
      }
    },
  };
}
