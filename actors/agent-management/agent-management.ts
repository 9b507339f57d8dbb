/**
 * agent_management: the registry of this node's agents.
 * State: the node's agents by id with their current state, stats and learned
 * proficiencies, rebuilt from storage at every (re)start and handed to the
 * node's task engine (which holds each local agent's deque and running tasks).
 * Registrations, changes, pauses and removals are stored before the reply;
 * state, stats and learning from task outcomes are stored every second.
 * Accepts AgentManagementMsg.
 */
import {
  AGENT_STATES,
  learn,
  missingCapability,
  parseCapabilities,
  type Agent,
  type AgentState,
  type AgentUpdate,
  type NewAgent,
  type RequiredCapability,
} from '../../src/domain/index.js';
import { HubError, assertNever, errorMessage, isOutage } from '../../src/errors/index.js';
import type { ActorContext, ActorSpec } from '../../src/runtime/index.js';
import { OutageTracker, type AgentFilter, type Page } from '../../src/storage/index.js';
import type { AgentOutcome } from '../../src/engine/types.js';
import type { ModuleDeps } from '../shared/deps.js';
import type { Sessions } from '../../src/engine/sessions.js';
import { answer } from '../shared/answer.js';
import type { AgentManagementMsg, AgentSlot, AgentSummary, AgentView } from './messages.js';

type Ctx = ActorContext<AgentManagementMsg>;

interface State {
  agents: Map<string, Agent>;
  /** Agents whose state, stats or capabilities changed since the last flush, with the state last stored. */
  dirty: Map<string, AgentState>;
  registered: number;
  removed: number;
  completed: number;
  failed: number;
  /** The node's remote-agent sessions (deps.sessions): which remote agents are connected. */
  sessions: Sessions;
  /** The periodic flush pauses while the database is away (changes stay dirty and are stored once it is back). */
  outage: OutageTracker;
  /** When offline agents were last checked against their retention (ms). */
  sweptAt: number;
}

/** How often offline agents are checked against [agents] offline_retention_seconds. */
const RETENTION_SWEEP_MS = 10_000;

async function loadLocalAgents(deps: ModuleDeps): Promise<Map<string, Agent>> {
  const agents = new Map<string, Agent>();
  for (let offset = 0; ; offset += 500) {
    const page = await deps.store.listAgents({ nodeId: deps.nodeId, limit: 500, offset });
    for (const a of page.items) agents.set(a.id, a);
    if (page.items.length < 500) return agents;
  }
}

async function init(deps: ModuleDeps): Promise<State> {
  const outage = new OutageTracker(deps.log, 'agent_management flush');
  const state: State = {
    agents: await loadLocalAgents(deps),
    dirty: new Map(),
    registered: 0,
    removed: 0,
    completed: 0,
    failed: 0,
    sessions: deps.sessions,
    outage,
    sweptAt: 0,
  };
  for (const agent of state.agents.values())
    if (runnable(state, agent)) deps.engine.setAgent(agent, deps.sessions.sessionOf(agent.id));
  return state;
}

/** Runs here: a local agent, or a remote agent connected to this node. */
function runnable(state: State, agent: Agent): boolean {
  return agent.kind === 'local' || state.sessions.isConnected(agent.id);
}

function markDirty(state: State, id: string): void {
  const agent = state.agents.get(id);
  if (agent !== undefined && !state.dirty.has(id)) state.dirty.set(id, agent.state);
}

function view(deps: ModuleDeps, state: State, agent: Agent): AgentView {
  const current = state.agents.get(agent.id) ?? agent;
  return { ...current, running_tasks: deps.engine.load(agent.id) };
}

function checkExecutor(deps: ModuleDeps, agent: NewAgent): NewAgent {
  if (agent.kind === 'remote') return agent;
  const executor = agent.executor ?? deps.config.agents.default_executor;
  if (!deps.handlers.has(executor)) {
    throw new HubError(
      'VALIDATION_FAILED',
      `executor: unknown executor "${executor}"; known: ${[...deps.handlers.keys()].join(', ')}`,
      { details: { field: 'executor' } },
    );
  }
  return { ...agent, executor };
}

async function register(deps: ModuleDeps, state: State, input: NewAgent, session?: string): Promise<AgentView> {
  const previous = session === undefined ? undefined : formerSelf(state, input);
  if (previous !== undefined) return takeOver(deps, state, previous, input, session!);
  // Offline agents (remote ones gone past their grace) hold no slot: only live ones count.
  const live = [...state.agents.values()].filter((a) => a.state !== 'offline').length;
  if (live >= deps.config.agents.max_agents) {
    throw new HubError(
      'AGENT_LIMIT_REACHED',
      `this node already has ${live} live agents ([agents] max_agents = ${deps.config.agents.max_agents})`,
    );
  }
  const agent = await deps.store.createAgent(checkExecutor(deps, input), deps.nodeId);
  state.agents.set(agent.id, agent);
  state.registered++;
  if (session !== undefined) state.sessions.bind(agent.id, session);
  if (runnable(state, agent)) deps.engine.setAgent(agent, session);
  deps.log.info({ event: 'agent.registered', agent_id: agent.id, name: agent.name }, `agent ${agent.name} registered`);
  deps.events.publish('agents', 'agent.registered', view(deps, state, agent));
  return view(deps, state, agent);
}

/** A remote agent's earlier record: same name, same principal, not connected now. */
function formerSelf(state: State, input: NewAgent): Agent | undefined {
  if (input.kind !== 'remote' || input.owner === undefined || input.owner === null) return undefined;
  for (const a of state.agents.values())
    if (a.kind === 'remote' && a.name === input.name && a.owner === input.owner && !state.sessions.isConnected(a.id))
      return a;
  return undefined;
}

/**
 * A remote agent reconnecting without its resume token takes over its old record
 * (id, stats, learned proficiencies) instead of adding another; what the old
 * connection still ran is requeued. Its declared capabilities and limits win.
 */
async function takeOver(
  deps: ModuleDeps,
  state: State,
  previous: Agent,
  input: NewAgent,
  session: string,
): Promise<AgentView> {
  deps.engine.removeAgent(previous.id, `agent ${previous.name} reconnected as a new session`);
  const next: Agent = {
    ...previous,
    state: 'idle',
    type: input.type,
    capabilities: input.capabilities,
    max_concurrency: input.max_concurrency,
  };
  await deps.store.updateAgent(previous.id, {
    state: 'idle',
    type: next.type,
    capabilities: next.capabilities,
    max_concurrency: next.max_concurrency,
  });
  state.agents.set(next.id, next);
  state.dirty.delete(next.id);
  state.sessions.bind(next.id, session);
  deps.engine.setAgent(next, session);
  deps.log.info(
    { event: 'agent.taken_over', agent_id: next.id, name: next.name },
    `agent ${next.name} reconnected without its resume token and took over its record`,
  );
  deps.events.publish('agents', 'agent.state_changed', view(deps, state, next));
  return view(deps, state, next);
}

/** Removes remote agents offline longer than [agents] offline_retention_seconds (their rows too). */
async function removeStale(deps: ModuleDeps, state: State): Promise<void> {
  const cutoff = new Date(Date.now() - deps.config.agents.offline_retention_seconds * 1000).toISOString();
  for (const a of [...state.agents.values()]) {
    if (a.kind !== 'remote' || a.state !== 'offline' || state.sessions.isConnected(a.id) || a.updated_at > cutoff)
      continue;
    await deps.store.deleteAgent(a.id);
    state.agents.delete(a.id);
    state.dirty.delete(a.id);
    deps.log.info(
      { event: 'agent.expired', agent_id: a.id, name: a.name },
      `offline agent ${a.name} removed after [agents] offline_retention_seconds`,
    );
    deps.events.publish('agents', 'agent.removed', { ...a });
  }
}

async function getAgent(deps: ModuleDeps, state: State, id: string): Promise<Agent> {
  const agent = state.agents.get(id) ?? (await deps.store.getAgent(id));
  if (agent === undefined)
    throw new HubError('AGENT_NOT_FOUND', `no agent with id ${id}`, { details: { agent_id: id } });
  return agent;
}

async function list(deps: ModuleDeps, state: State, filter: AgentFilter): Promise<Page<AgentView>> {
  const page = await deps.store.listAgents(filter);
  return { total: page.total, items: page.items.map((a) => view(deps, state, a)) };
}

async function update(
  deps: ModuleDeps,
  state: State,
  id: string,
  patch: AgentUpdate & { paused?: boolean },
): Promise<AgentView> {
  await getAgent(deps, state, id);
  const current = state.agents.get(id);
  if (current !== undefined && state.dirty.has(id)) await flushOne(deps, state, id); // keep learned values
  const stored = await deps.store.updateAgent(id, patch);
  if (stored === undefined)
    throw new HubError('AGENT_NOT_FOUND', `no agent with id ${id}`, { details: { agent_id: id } });
  const merged = current === undefined ? stored : { ...stored, state: current.state };
  if (current !== undefined) {
    state.agents.set(id, merged);
    if (runnable(state, merged)) deps.engine.setAgent(merged);
  }
  const type = patch.paused === undefined ? 'agent.updated' : 'agent.state_changed';
  deps.events.publish('agents', type, view(deps, state, merged));
  return view(deps, state, merged);
}

async function remove(deps: ModuleDeps, state: State, id: string): Promise<AgentView> {
  const agent = await getAgent(deps, state, id);
  const shown = view(deps, state, agent);
  // The engine aborts what the agent runs (those tasks go back to pending) and gives its deque to other agents.
  deps.engine.removeAgent(id, `agent ${agent.name} was removed`);
  state.sessions.unbind(id);
  await deps.store.deleteAgent(id);
  state.agents.delete(id);
  state.dirty.delete(id);
  state.removed++;
  deps.log.info({ event: 'agent.removed', agent_id: id }, `agent ${agent.name} removed`);
  deps.events.publish('agents', 'agent.removed', shown);
  return shown;
}

async function checkAssignable(
  deps: ModuleDeps,
  state: State,
  id: string,
  required: RequiredCapability[],
): Promise<AgentSlot> {
  const agent = await getAgent(deps, state, id);
  const details = { agent_id: id };
  if (!state.agents.has(id) || !runnable(state, agent))
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
      {
        details: { ...details, capability: missing.name, min_proficiency: missing.min_proficiency },
      },
    );
  }
  return { agent, running, free: agent.max_concurrency - running };
}

/** A remote agent reconnected within its grace (or after it): it runs tasks again through the new connection. */
async function attach(deps: ModuleDeps, state: State, id: string, session: string): Promise<AgentView> {
  const agent = state.agents.get(id);
  if (agent === undefined || agent.kind !== 'remote')
    throw new HubError('AGENT_NOT_FOUND', `no remote agent with id ${id} on this node`, { details: { agent_id: id } });
  state.sessions.bind(id, session);
  const next: Agent = { ...agent, state: deps.engine.load(id) > 0 ? 'working' : 'idle' };
  state.agents.set(id, next);
  await deps.store.updateAgent(id, { state: next.state });
  deps.engine.setAgent(next, session);
  deps.engine.setReachable(id, true);
  deps.events.publish('agents', 'agent.state_changed', view(deps, state, next));
  return view(deps, state, next);
}

/** A remote agent's connection is gone past its grace: its tasks are requeued, it is offline until it reconnects. */
async function detach(deps: ModuleDeps, state: State, id: string, reason: string): Promise<void> {
  const agent = state.agents.get(id);
  state.sessions.unbind(id);
  deps.engine.removeAgent(id, reason);
  if (agent === undefined) return;
  const next: Agent = { ...agent, state: 'offline' };
  state.agents.set(id, next);
  state.dirty.delete(id);
  await deps.store.updateAgent(id, { state: 'offline', stats: next.stats, capabilities: next.capabilities });
  deps.log.info({ event: 'agent.detached', agent_id: id, reason }, `agent ${agent.name} is offline: ${reason}`);
  deps.events.publish('agents', 'agent.state_changed', view(deps, state, next));
}

/** Stats and learning from a stored batch of task ends. */
function outcomes(deps: ModuleDeps, state: State, batch: AgentOutcome[]): void {
  const rate = deps.config.agents.learning_rate;
  for (const o of batch) {
    const agent = state.agents.get(o.agentId);
    if (agent === undefined) continue;
    const s = agent.stats;
    const completed = s.tasks_completed + o.completed;
    const failed = s.tasks_failed + o.failed;
    const n = completed + failed;
    const stats = {
      tasks_completed: completed,
      tasks_failed: failed,
      success_rate: n === 0 ? 1 : completed / n,
      average_duration_ms: n === 0 ? 0 : (s.average_duration_ms * (n - o.completed - o.failed) + o.durationMsTotal) / n,
    };
    let capabilities = agent.capabilities;
    if (rate > 0)
      for (const r of o.results)
        if (r.required.length > 0) capabilities = learn(capabilities, r.required, r.success, rate);
    markDirty(state, agent.id);
    const next = { ...agent, stats, capabilities };
    state.agents.set(agent.id, next);
    if (capabilities !== agent.capabilities && runnable(state, next)) deps.engine.setAgent(next);
    state.completed += o.completed;
    state.failed += o.failed;
  }
}

async function flushOne(deps: ModuleDeps, state: State, id: string): Promise<void> {
  const storedState = state.dirty.get(id);
  const agent = state.agents.get(id);
  state.dirty.delete(id);
  if (agent === undefined || storedState === undefined) return;
  try {
    await deps.store.updateAgent(id, { state: agent.state, stats: agent.stats, capabilities: agent.capabilities });
  } catch (err) {
    if (!state.dirty.has(id)) state.dirty.set(id, storedState); // try again next flush
    throw err;
  }
  if (agent.state !== storedState) deps.events.publish('agents', 'agent.state_changed', view(deps, state, agent));
}

/** One agent's flush; a refusal that is its own (not an outage) is logged and fails no other agent's. */
async function flushIsolated(deps: ModuleDeps, state: State, id: string): Promise<void> {
  try {
    await flushOne(deps, state, id);
  } catch (err) {
    if (isOutage(err)) throw err;
    state.dirty.delete(id); // stored again with its next change
    deps.log.error(
      { event: 'agent.flush_refused', agent_id: id, err },
      `storing agent ${id} failed (other agents are stored): ${errorMessage(err)}`,
    );
  }
}

/** Derives idle/working from the engine; stores what changed; tells observers of state changes. */
async function flush(deps: ModuleDeps, state: State): Promise<void> {
  for (const agent of state.agents.values()) {
    if (!runnable(state, agent)) continue;
    const next: AgentState = deps.engine.load(agent.id) > 0 ? 'working' : 'idle';
    if (agent.state !== next) {
      markDirty(state, agent.id);
      state.agents.set(agent.id, { ...agent, state: next });
    }
  }
  try {
    for (const id of [...state.dirty.keys()]) await flushIsolated(deps, state, id);
    if (
      Date.now() - state.sweptAt >=
      Math.min(RETENTION_SWEEP_MS, deps.config.agents.offline_retention_seconds * 1000)
    ) {
      state.sweptAt = Date.now();
      await removeStale(deps, state);
    }
    state.outage.ok();
  } catch (err) {
    // An outage is no crash: what is dirty stays dirty for the next flush.
    if (!state.outage.failed(err)) throw err;
  }
}

function poolAgents(state: State, executor: string): Agent[] {
  return [...state.agents.values()].filter((a) => a.kind === 'local' && a.name.startsWith(`pool-${executor}-`));
}

/** Sizes the local pool (agents named pool-<executor>-N): adds agents, or removes idle ones (the newest first). */
async function ensurePool(deps: ModuleDeps, state: State, size: number): Promise<Agent[]> {
  const { default_executor: executor, default_capabilities: caps } = deps.config.agents;
  const pool = poolAgents(state, executor);
  const used = new Set(pool.map((a) => a.name));
  for (let i = 1; pool.length < size; i++) {
    const name = `pool-${executor}-${i}`;
    if (used.has(name)) continue;
    const capabilities = parseCapabilities(caps, 'agents.default_capabilities');
    const created = await register(deps, state, {
      name,
      type: 'worker',
      capabilities,
      executor,
      kind: 'local',
      max_concurrency: deps.config.agents.pool_max_concurrency,
    });
    pool.push(created);
  }
  const idle = pool
    .filter((a) => deps.engine.load(a.id) === 0)
    .sort((a, b) => b.created_at.localeCompare(a.created_at));
  while (pool.length > size && idle.length > 0) {
    const victim = idle.shift();
    if (victim === undefined) break;
    await remove(deps, state, victim.id);
    pool.splice(
      pool.findIndex((a) => a.id === victim.id),
      1,
    );
  }
  return pool;
}

function summarize(deps: ModuleDeps, state: State): AgentSummary {
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
    if (runnable(state, a) && !a.paused) capacity += a.max_concurrency;
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

/** The agent_management module actor. */
export function agentManagementSpec(deps: ModuleDeps): ActorSpec<AgentManagementMsg, State> {
  return {
    name: 'agent_management',
    init: () => init(deps),
    receive: async (state, msg, _ctx: Ctx) => {
      switch (msg.type) {
        case 'agent.register':
          await answer(msg.replyTo, () => register(deps, state, msg.agent, msg.session));
          return state;
        case 'agent.attach':
          await answer(msg.replyTo, () => attach(deps, state, msg.id, msg.session));
          return state;
        case 'agent.detach':
          await detach(deps, state, msg.id, msg.reason);
          return state;
        case 'agent.disconnected':
          deps.engine.setReachable(msg.id, false);
          return state;
        case 'agent.get':
          await answer(msg.replyTo, async () => view(deps, state, await getAgent(deps, state, msg.id)));
          return state;
        case 'agent.list':
          await answer(msg.replyTo, () => list(deps, state, msg.filter));
          return state;
        case 'agent.update':
          await answer(msg.replyTo, () => update(deps, state, msg.id, msg.update));
          return state;
        case 'agent.set_paused':
          await answer(msg.replyTo, () => update(deps, state, msg.id, { paused: msg.paused }));
          return state;
        case 'agent.remove':
          await answer(msg.replyTo, () => remove(deps, state, msg.id));
          return state;
        case 'agent.summarize':
          msg.replyTo.ok(summarize(deps, state));
          return state;
        case 'agent.ensure_pool':
          await answer(msg.replyTo, () => ensurePool(deps, state, msg.size ?? deps.config.agents.default_pool_size));
          return state;
        case 'agent.check_assignable':
          await answer(msg.replyTo, () => checkAssignable(deps, state, msg.id, msg.required));
          return state;
        case 'agent.outcomes':
          outcomes(deps, state, msg.outcomes);
          return state;
        case 'agent.flush':
          await flush(deps, state);
          return state;
        case 'agent.restore':
          for (const agent of state.agents.values()) if (runnable(state, agent)) state.dirty.set(agent.id, 'offline');
          await flush(deps, state);
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
