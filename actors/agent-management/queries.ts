/** What agent_management answers from its index of the node's agents: lists, the summary, placement checks. */
import { AGENT_STATES, missingCapability, type Agent, type RequiredCapability } from '../../src/domain/index.js';
import { HubError } from '../../src/errors/index.js';
import type { AgentFilter, Page } from '../../src/storage/index.js';
import { runsHere } from '../agent/agent-actor.js';
import type { ModuleDeps } from '../shared/deps.js';
import type { AgentSlot, AgentSummary, AgentView } from './messages.js';
import { storedView, viewOf, type Ctx, type State } from './state.js';

/** Agents of every node from storage; this node's as their actors last told, with what they run now. */
export async function list(deps: ModuleDeps, ctx: Ctx, state: State, filter: AgentFilter): Promise<Page<AgentView>> {
  const page = await deps.store.listAgents(filter);
  const items = page.items.map((a) => (state.agents.has(a.id) ? viewOf(deps, ctx, state, a) : storedView(a)));
  return { total: page.total, items };
}

export function poolAgents(state: State, executor: string): Agent[] {
  return [...state.agents.values()].filter((a) => a.kind === 'local' && a.name.startsWith(`pool-${executor}-`));
}

/** Checks that one agent of this node can take a task with these requirements now (manual assignment). */
export async function checkAssignable(
  deps: ModuleDeps,
  state: State,
  id: string,
  required: RequiredCapability[],
): Promise<AgentSlot> {
  const details = { agent_id: id };
  const agent = state.agents.get(id) ?? (await deps.store.getAgent(id));
  if (agent === undefined) throw new HubError('AGENT_NOT_FOUND', `no agent with id ${id}`, { details });
  if (!state.agents.has(id) || !runsHere(deps, agent))
    throw new HubError('AGENT_NOT_LOCAL', `agent ${agent.name} runs on node ${agent.node_id}, not on this node`, {
      details,
    });
  if (agent.paused)
    throw new HubError('AGENT_PAUSED', `agent ${agent.name} is paused; resume it with POST /api/agents/${id}/resume`, {
      details,
    });
  if (agent.state === 'failed' || agent.state === 'offline')
    throw new HubError('INVALID_STATE', `agent ${agent.name} is ${agent.state}`, {
      details: { ...details, state: agent.state },
    });
  const running = deps.engine.load(id);
  if (running >= agent.max_concurrency)
    throw new HubError(
      'AGENT_BUSY',
      `agent ${agent.name} already runs ${running} of max_concurrency ${agent.max_concurrency} tasks`,
      { details: { ...details, running } },
    );
  const missing = missingCapability(agent, required);
  if (missing !== undefined) {
    const has = agent.capabilities.find((c) => c.name === missing.name);
    const why = has === undefined ? 'does not have it' : `has proficiency ${has.proficiency}`;
    throw new HubError(
      'CAPABILITY_MISMATCH',
      `agent ${agent.name} cannot take this task: it requires capability "${missing.name}" at proficiency >= ${missing.min_proficiency}, and the agent ${why}`,
      { details: { ...details, capability: missing.name, min_proficiency: missing.min_proficiency } },
    );
  }
  return { agent, running, free: agent.max_concurrency - running };
}

export function summarize(deps: ModuleDeps, state: State): AgentSummary {
  const by_state = Object.fromEntries(AGENT_STATES.map((s) => [s, 0])) as AgentSummary['by_state'];
  let local = 0;
  let paused = 0;
  let busy = 0;
  let capacity = 0;
  let runningTotal = 0;
  for (const a of state.agents.values()) {
    by_state[a.state]++;
    if (a.kind === 'local') local++;
    if (a.paused) paused++;
    const load = deps.engine.load(a.id);
    runningTotal += load;
    if (load >= a.max_concurrency) busy++;
    if (runsHere(deps, a) && !a.paused && a.state !== 'failed') capacity += a.max_concurrency;
  }
  const { pool_min_size: min, pool_max_size: max, default_executor: executor } = deps.config.agents;
  return {
    total: state.agents.size,
    by_state,
    local,
    remote: state.agents.size - local,
    paused,
    busy,
    capacity,
    running_tasks: runningTotal,
    utilization_percent: capacity === 0 ? 0 : Math.round((runningTotal / capacity) * 10_000) / 100,
    registered_since_start: state.registered,
    removed_since_start: state.removed,
    tasks_completed_since_start: state.completed,
    tasks_failed_since_start: state.failed,
    pool: { size: poolAgents(state, executor).length, min, max },
  };
}
