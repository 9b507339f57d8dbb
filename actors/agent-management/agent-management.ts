/**
 * agent_management: the registry of this node's agents and their load.
 * State: the node's agents by id with their current state and stats, how many
 * tasks each runs, and a child actor per local agent; rebuilt at every
 * (re)start from storage and the node's Executions (tasks leased to this node
 * that no execution holds are requeued). Registrations, removals and pauses are
 * stored before the reply; state and stats changes are flushed every second.
 * Accepts AgentManagementMsg.
 */
import { AGENT_STATES, missingCapability, parseCapabilities, type Agent, type AgentState, type AgentUpdate, type NewAgent, type RequiredCapability, type Task } from '../../src/domain/index.js';
import { HubError, assertNever } from '../../src/errors/index.js';
import type { ActorContext, ActorRef, ActorSpec } from '../../src/runtime/index.js';
import type { AgentFilter, Page } from '../../src/storage/index.js';
import { agentSpec } from '../agent/agent.js';
import { AbortReason } from '../agent/execute.js';
import type { AgentMsg, TaskDone } from '../agent/messages.js';
import type { TaskManagementMsg } from '../task-distributor/messages.js';
import type { ModuleDeps } from '../shared/deps.js';
import { answer } from '../shared/answer.js';
import { requeueTask } from '../shared/requeue.js';
import type { AgentManagementMsg, AgentSlot, AgentSummary, AgentView } from './messages.js';

/** Refs filled in by the hive once every module is spawned (modules refer to each other). */
export interface AgentPeers {
  tasks?: ActorRef<TaskManagementMsg>;
}

type Ctx = ActorContext<AgentManagementMsg>;

interface State {
  agents: Map<string, Agent>;
  /** Task ids each agent runs now (sets, so a late or repeated notice cannot skew the count). */
  load: Map<string, Set<string>>;
  children: Map<string, ActorRef<AgentMsg>>;
  /** Agents whose state or stats changed since the last flush, with the state last stored. */
  dirty: Map<string, AgentState>;
  registered: number;
  removed: number;
  completed: number;
  failed: number;
}

async function loadLocalAgents(deps: ModuleDeps): Promise<Map<string, Agent>> {
  const agents = new Map<string, Agent>();
  for (let offset = 0; ; offset += 500) {
    const page = await deps.store.listAgents({ nodeId: deps.nodeId, limit: 500, offset });
    for (const a of page.items) agents.set(a.id, a);
    if (page.items.length < 500) return agents;
  }
}

async function init(deps: ModuleDeps, ctx: Ctx): Promise<State> {
  const state: State = { agents: await loadLocalAgents(deps), load: new Map(), children: new Map(), dirty: new Map(), registered: 0, removed: 0, completed: 0, failed: 0 };
  for (const task of await deps.store.listLeasedTasks(deps.nodeId)) {
    const agentId = task.assigned_agent;
    if (deps.executions.has(task.id) && agentId !== null && state.agents.has(agentId)) running(state, agentId).add(task.id);
    else await requeueTask(deps, task, 'recovered: no execution holds it on this node');
  }
  for (const agent of state.agents.values()) {
    if (agent.kind === 'local') spawnChild(deps, state, agent, ctx);
    setState(state, agent.id, loadOf(state, agent.id) > 0 ? 'working' : 'idle');
  }
  return state;
}

function running(state: State, agentId: string): Set<string> {
  let set = state.load.get(agentId);
  if (set === undefined) state.load.set(agentId, (set = new Set()));
  return set;
}

function loadOf(state: State, agentId: string): number {
  return state.load.get(agentId)?.size ?? 0;
}

function spawnChild(deps: ModuleDeps, state: State, agent: Agent, ctx: Ctx): void {
  state.children.set(agent.id, ctx.spawn(agentSpec(deps, agent, { ref: ctx.self })));
}

/** Changes an agent's in-memory state; the next flush stores it and tells observers. */
function setState(state: State, id: string, next: AgentState): void {
  const agent = state.agents.get(id);
  if (agent === undefined || agent.state === next) return;
  if (!state.dirty.has(id)) state.dirty.set(id, agent.state);
  state.agents.set(id, { ...agent, state: next });
}

function view(state: State, agent: Agent): AgentView {
  const current = state.agents.get(agent.id) ?? agent;
  return { ...current, running_tasks: loadOf(state, agent.id) };
}

function notifyDistributor(peers: AgentPeers, ctx: Ctx, msg: TaskManagementMsg): void {
  if (peers.tasks !== undefined) ctx.tell(peers.tasks, msg);
}

function checkExecutor(deps: ModuleDeps, agent: NewAgent): NewAgent {
  if (agent.kind === 'remote') return agent;
  const executor = agent.executor ?? deps.config.agents.default_executor;
  if (!deps.handlers.has(executor)) {
    throw new HubError('VALIDATION_FAILED', `executor: unknown executor "${executor}"; known: ${[...deps.handlers.keys()].join(', ')}`, { details: { field: 'executor' } });
  }
  return { ...agent, executor };
}

async function register(deps: ModuleDeps, peers: AgentPeers, state: State, input: NewAgent, ctx: Ctx): Promise<AgentView> {
  if (state.agents.size >= deps.config.agents.max_agents) {
    throw new HubError('AGENT_LIMIT_REACHED', `this node already has ${state.agents.size} agents ([agents] max_agents = ${deps.config.agents.max_agents})`);
  }
  const agent = await deps.store.createAgent(checkExecutor(deps, input), deps.nodeId);
  state.agents.set(agent.id, agent);
  state.registered++;
  if (agent.kind === 'local') spawnChild(deps, state, agent, ctx);
  deps.log.info({ event: 'agent.registered', agent_id: agent.id, name: agent.name }, `agent ${agent.name} registered`);
  deps.events.publish('agents', 'agent.registered', view(state, agent));
  notifyDistributor(peers, ctx, { type: 'task.dispatch' });
  return view(state, agent);
}

async function getAgent(deps: ModuleDeps, state: State, id: string): Promise<Agent> {
  const agent = state.agents.get(id) ?? (await deps.store.getAgent(id));
  if (agent === undefined) throw new HubError('AGENT_NOT_FOUND', `no agent with id ${id}`, { details: { agent_id: id } });
  return agent;
}

async function list(deps: ModuleDeps, state: State, filter: AgentFilter): Promise<Page<AgentView>> {
  const page = await deps.store.listAgents(filter);
  return { total: page.total, items: page.items.map((a) => view(state, a)) };
}

async function update(deps: ModuleDeps, peers: AgentPeers, state: State, id: string, patch: AgentUpdate & { paused?: boolean }, ctx: Ctx): Promise<AgentView> {
  await getAgent(deps, state, id);
  const stored = await deps.store.updateAgent(id, patch);
  if (stored === undefined) throw new HubError('AGENT_NOT_FOUND', `no agent with id ${id}`, { details: { agent_id: id } });
  const current = state.agents.get(id);
  const merged = current === undefined ? stored : { ...stored, state: current.state, stats: current.stats };
  if (current !== undefined) state.agents.set(id, merged);
  const type = patch.paused === undefined ? 'agent.updated' : 'agent.state_changed';
  deps.events.publish('agents', type, view(state, merged));
  notifyDistributor(peers, ctx, { type: 'task.dispatch' });
  return view(state, merged);
}

async function remove(deps: ModuleDeps, peers: AgentPeers, state: State, id: string, ctx: Ctx): Promise<AgentView> {
  const agent = await getAgent(deps, state, id);
  const shown = view(state, agent);
  for (const e of deps.executions.forAgent(id)) e.controller.abort(new AbortReason('cancelled', `agent ${agent.name} was removed`));
  const child = state.children.get(id);
  if (child !== undefined) ctx.stop(child);
  const leased = (await deps.store.listLeasedTasks(deps.nodeId)).filter((t) => t.assigned_agent === id);
  for (const task of leased) {
    deps.executions.finish(task.id, task.attempts);
    await requeueTask(deps, task, `agent ${agent.name} was removed`);
  }
  await deps.store.deleteAgent(id);
  state.agents.delete(id);
  state.load.delete(id);
  state.children.delete(id);
  state.dirty.delete(id);
  state.removed++;
  deps.log.info({ event: 'agent.removed', agent_id: id, requeued: leased.length }, `agent ${agent.name} removed`);
  deps.events.publish('agents', 'agent.removed', shown);
  notifyDistributor(peers, ctx, { type: 'task.dispatch' });
  return shown;
}

function slotOf(state: State, agent: Agent): AgentSlot {
  const n = loadOf(state, agent.id);
  return { agent, running: n, free: Math.max(0, agent.max_concurrency - n) };
}

function canTakeWork(agent: Agent): boolean {
  return agent.kind === 'local' && !agent.paused && agent.state !== 'failed' && agent.state !== 'offline';
}

function available(state: State): AgentSlot[] {
  return [...state.agents.values()].filter(canTakeWork).map((a) => slotOf(state, a)).filter((s) => s.free > 0);
}

async function checkAssignable(deps: ModuleDeps, state: State, id: string, required: RequiredCapability[]): Promise<AgentSlot> {
  const agent = await getAgent(deps, state, id);
  const details = { agent_id: id };
  if (!state.agents.has(id) || agent.kind !== 'local') throw new HubError('AGENT_NOT_LOCAL', `agent ${agent.name} runs on node ${agent.node_id}, not on this node`, { details });
  if (agent.paused) throw new HubError('AGENT_PAUSED', `agent ${agent.name} is paused; resume it with POST /api/agents/${id}/resume`, { details });
  if (agent.state === 'failed' || agent.state === 'offline') throw new HubError('INVALID_STATE', `agent ${agent.name} is ${agent.state}`, { details: { ...details, state: agent.state } });
  const slot = slotOf(state, agent);
  if (slot.free === 0) throw new HubError('AGENT_BUSY', `agent ${agent.name} already runs ${slot.running} of max_concurrency ${agent.max_concurrency} tasks`, { details: { ...details, running: slot.running } });
  const missing = missingCapability(agent, required);
  if (missing !== undefined) {
    const has = agent.capabilities.find((c) => c.name === missing.name);
    const why = has === undefined ? 'does not have it' : `has proficiency ${has.proficiency}`;
    throw new HubError('CAPABILITY_MISMATCH', `agent ${agent.name} cannot take this task: it requires capability "${missing.name}" at proficiency >= ${missing.min_proficiency}, and the agent ${why}`, {
      details: { ...details, capability: missing.name, min_proficiency: missing.min_proficiency },
    });
  }
  return slot;
}

async function dispatch(deps: ModuleDeps, peers: AgentPeers, state: State, agentId: string, task: Task, ctx: Ctx): Promise<void> {
  const child = state.children.get(agentId);
  if (child === undefined) {
    await requeueTask(deps, task, 'its agent is gone');
    notifyDistributor(peers, ctx, { type: 'task.finished', done: { agentId, taskId: task.id, outcome: 'stale', durationMs: 0 } });
    return;
  }
  running(state, agentId).add(task.id);
  setState(state, agentId, 'working');
  ctx.tell(child, { type: 'agent.run', task });
}

function taskDone(peers: AgentPeers, state: State, done: TaskDone, ctx: Ctx): void {
  const agent = state.agents.get(done.agentId);
  if (agent !== undefined) {
    const set = running(state, done.agentId);
    const wasRunning = set.delete(done.taskId);
    const left = set.size;
    if (wasRunning && (done.outcome === 'completed' || done.outcome === 'failed')) {
      const s = agent.stats;
      const completed = s.tasks_completed + (done.outcome === 'completed' ? 1 : 0);
      const failed = s.tasks_failed + (done.outcome === 'failed' ? 1 : 0);
      const n = completed + failed;
      const stats = { tasks_completed: completed, tasks_failed: failed, success_rate: completed / n, average_duration_ms: s.average_duration_ms + (done.durationMs - s.average_duration_ms) / n };
      if (!state.dirty.has(agent.id)) state.dirty.set(agent.id, agent.state);
      state.agents.set(agent.id, { ...agent, stats });
      if (done.outcome === 'completed') state.completed++;
      else state.failed++;
    }
    if (left === 0) setState(state, done.agentId, 'idle');
  }
  notifyDistributor(peers, ctx, { type: 'task.finished', done });
}

/** Stores state and stats that changed; tells observers of state changes. */
async function flush(deps: ModuleDeps, state: State, ctx: Ctx): Promise<void> {
  for (const child of state.children.values()) ctx.tell(child, { type: 'agent.recover' });
  const dirty = [...state.dirty];
  state.dirty.clear();
  for (const [id, storedState] of dirty) {
    const agent = state.agents.get(id);
    if (agent === undefined) continue;
    try {
      await deps.store.updateAgent(id, { state: agent.state, stats: agent.stats });
    } catch (err) {
      if (!state.dirty.has(id)) state.dirty.set(id, storedState); // try again next flush
      throw err;
    }
    if (agent.state !== storedState) deps.events.publish('agents', 'agent.state_changed', view(state, agent));
  }
}

/** Creates the [agents] default pool: tops this node's pool agents up to default_pool_size. */
async function ensurePool(deps: ModuleDeps, peers: AgentPeers, state: State, ctx: Ctx): Promise<Agent[]> {
  const { default_pool_size: size, default_executor: executor, default_capabilities: caps } = deps.config.agents;
  const existing = [...state.agents.values()].filter((a) => a.kind === 'local' && a.name.startsWith('pool-'));
  const created: Agent[] = [];
  for (let i = existing.length; i < size; i++) {
    const capabilities = parseCapabilities(caps, 'agents.default_capabilities');
    created.push(await register(deps, peers, state, { name: `pool-${executor}-${i + 1}`, type: 'worker', capabilities, executor, kind: 'local', max_concurrency: 1 }, ctx));
  }
  return created;
}

function summarize(state: State): AgentSummary {
  const by_state = Object.fromEntries(AGENT_STATES.map((s) => [s, 0])) as AgentSummary['by_state'];
  let local = 0;
  let paused = 0;
  let busy = 0;
  let capacity = 0;
  let running = 0;
  for (const a of state.agents.values()) {
    by_state[a.state]++;
    if (a.kind === 'local') local++;
    if (a.paused) paused++;
    const load = loadOf(state, a.id);
    running += load;
    if (load >= a.max_concurrency) busy++;
    if (canTakeWork(a)) capacity += a.max_concurrency;
  }
  return {
    total: state.agents.size,
    by_state,
    local,
    remote: state.agents.size - local,
    paused,
    busy,
    capacity,
    running_tasks: running,
    utilization_percent: capacity === 0 ? 0 : Math.round((running / capacity) * 10_000) / 100,
    registered_since_start: state.registered,
    removed_since_start: state.removed,
    tasks_completed_since_start: state.completed,
    tasks_failed_since_start: state.failed,
  };
}

/** The agent_management module actor. */
export function agentManagementSpec(deps: ModuleDeps, peers: AgentPeers): ActorSpec<AgentManagementMsg, State> {
  return {
    name: 'agent_management',
    init: (ctx) => init(deps, ctx),
    receive: async (state, msg, ctx) => {
      switch (msg.type) {
        case 'agent.register':
          await answer(msg.replyTo, () => register(deps, peers, state, msg.agent, ctx));
          return state;
        case 'agent.get':
          await answer(msg.replyTo, async () => view(state, await getAgent(deps, state, msg.id)));
          return state;
        case 'agent.list':
          await answer(msg.replyTo, () => list(deps, state, msg.filter));
          return state;
        case 'agent.update':
          await answer(msg.replyTo, () => update(deps, peers, state, msg.id, msg.update, ctx));
          return state;
        case 'agent.set_paused':
          await answer(msg.replyTo, () => update(deps, peers, state, msg.id, { paused: msg.paused }, ctx));
          return state;
        case 'agent.remove':
          await answer(msg.replyTo, () => remove(deps, peers, state, msg.id, ctx));
          return state;
        case 'agent.summarize':
          msg.replyTo.ok(summarize(state));
          return state;
        case 'agent.ensure_pool':
          await answer(msg.replyTo, () => ensurePool(deps, peers, state, ctx));
          return state;
        case 'agent.available':
          msg.replyTo.ok(available(state));
          return state;
        case 'agent.check_assignable':
          await answer(msg.replyTo, () => checkAssignable(deps, state, msg.id, msg.required));
          return state;
        case 'agent.dispatch':
          await dispatch(deps, peers, state, msg.agentId, msg.task, ctx);
          return state;
        case 'agent.task_done':
          taskDone(peers, state, msg.done, ctx);
          return state;
        case 'agent.flush':
          await flush(deps, state, ctx);
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
