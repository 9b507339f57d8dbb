/**
 * agent_management: this node's agents, each a supervised actor (its child,
 * actors/agent/agent-actor.ts) that owns the agent's record, stats and
 * learning. This module registers and removes agents, binds remote agents to
 * their sessions, routes operations on one agent to its actor or its node
 * (operations.ts), fans the engine's outcomes out to the agents' actors, and
 * keeps an index of the agents (what their actors last told) for lists,
 * summaries, placement checks and the pool.
 * Accepts AgentManagementMsg.
 */
import { parseCapabilities, type Agent, type NewAgent } from '../../src/domain/index.js';
import { HubError, assertNever, errorMessage } from '../../src/errors/index.js';
import type { ActorSpec } from '../../src/runtime/index.js';
import { OutageTracker, listAllAgents } from '../../src/storage/index.js';
import type { AgentOutcome } from '../../src/engine/types.js';
import type { ModuleDeps } from '../shared/deps.js';
import { answer } from '../shared/answer.js';
import { agentActorName, agentActorSpec, runsHere } from '../agent/agent-actor.js';
import type { AgentMsg } from '../agent/messages.js';
import type { AgentManagementMsg, AgentView } from './messages.js';
import { isAgentOperation } from './messages.js';
import { dropAgent, removeAgent, serveOperation } from './operations.js';
import { checkAssignable, list, poolAgents, summarize } from './queries.js';
import { liveActor, pipe, viewOf, type Ctx, type State } from './state.js';

/** How often offline agents are checked against [agents] offline_retention_seconds. */
const RETENTION_SWEEP_MS = 10_000;

async function init(deps: ModuleDeps, ctx: Ctx): Promise<State> {
  const state: State = {
    agents: new Map(),
    actors: new Map(),
    registered: 0,
    removed: 0,
    completed: 0,
    failed: 0,
    outage: new OutageTracker(deps.log, 'agent_management retention sweep'),
    sweptAt: 0,
  };
  for (const agent of await listAllAgents(deps.store, { nodeId: deps.nodeId })) adopt(deps, ctx, state, agent);
  return state;
}

/** Indexes an agent of this node and starts its actor (which gives it to the engine). */
function adopt(deps: ModuleDeps, ctx: Ctx, state: State, agent: Agent): void {
  state.agents.set(agent.id, agent);
  // After a reset (init without a restart) the agent's actor is still alive: it is reset too (its record read again).
  const alive = ctx.child<AgentMsg>(agentActorName(agent.id));
  if (alive !== undefined) ctx.reset(alive);
  state.actors.set(agent.id, alive ?? ctx.spawn(agentActorSpec(deps, ctx.self, agent.id)));
  // At once, not when the actor's init runs: a task submitted right after the registration is handed to it.
  if (runsHere(deps, agent) && agent.state !== 'failed') deps.engine.setAgent(agent, deps.sessions.sessionOf(agent.id));
}

/** Tells an agent's actor, if it is alive; one that cannot take it now (restarting, full) gets the next. */
function tellAgent(ctx: Ctx, state: State, id: string, msg: AgentMsg): boolean {
  const ref = liveActor(ctx, state, id);
  if (ref === undefined) return false;
  try {
    ctx.tell(ref, msg);
    return true;
  } catch {
    return false; // counted by the runtime (full mailbox or dead letter)
  }
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

async function register(
  deps: ModuleDeps,
  ctx: Ctx,
  state: State,
  input: NewAgent,
  session?: string,
): Promise<AgentView> {
  // Offline agents (remote ones gone past their grace) hold no slot: only live ones count.
  const live = [...state.agents.values()].filter((a) => a.state !== 'offline').length;
  if (live >= deps.config.agents.max_agents) {
    throw new HubError(
      'AGENT_LIMIT_REACHED',
      `this node already has ${live} live agents ([agents] max_agents = ${deps.config.agents.max_agents})`,
    );
  }
  const agent = await deps.store.createAgent(checkExecutor(deps, input), deps.nodeId);
  state.registered++;
  if (session !== undefined) deps.sessions.bind(agent.id, session);
  adopt(deps, ctx, state, agent);
  deps.log.info({ event: 'agent.registered', agent_id: agent.id, name: agent.name }, `agent ${agent.name} registered`);
  const view = viewOf(deps, ctx, state, agent);
  deps.events.publish('agents', 'agent.registered', view);
  return view;
}

/** A remote agent's earlier record: same name, same principal, not connected now, its actor alive. */
function formerSelf(deps: ModuleDeps, ctx: Ctx, state: State, input: NewAgent): Agent | undefined {
  if (input.kind !== 'remote' || input.owner === undefined || input.owner === null) return undefined;
  for (const a of state.agents.values())
    if (
      a.kind === 'remote' &&
      a.name === input.name &&
      a.owner === input.owner &&
      !deps.sessions.isConnected(a.id) &&
      liveActor(ctx, state, a.id) !== undefined
    )
      return a;
  return undefined;
}

/**
 * A remote agent registering: one reconnecting without its resume token takes
 * over its old record (id, stats, learned proficiencies) instead of adding
 * another; what the old connection still ran is requeued. Its declared
 * capabilities and limits win.
 */
async function registerRemote(
  deps: ModuleDeps,
  ctx: Ctx,
  state: State,
  msg: Extract<AgentManagementMsg, { type: 'agent.register' }>,
): Promise<void> {
  const previous = msg.session === undefined ? undefined : formerSelf(deps, ctx, state, msg.agent);
  if (previous === undefined || msg.session === undefined)
    return answer(msg.replyTo, () => register(deps, ctx, state, msg.agent, msg.session));
  const { type, capabilities, max_concurrency } = msg.agent;
  deps.sessions.bind(previous.id, msg.session);
  deps.log.info(
    { event: 'agent.taken_over', agent_id: previous.id, name: previous.name },
    `agent ${previous.name} reconnected without its resume token and took over its record`,
  );
  const session = msg.session;
  pipe(
    msg.replyTo,
    ctx.ask<AgentMsg, AgentView>(state.actors.get(previous.id)!, (replyTo) => ({
      type: 'agent.connect',
      session,
      takeOver: { type, capabilities, max_concurrency },
      replyTo,
    })),
  );
}

/** A remote agent reconnected within its grace (or after it): it runs tasks again through the new connection. */
function attach(
  deps: ModuleDeps,
  ctx: Ctx,
  state: State,
  msg: Extract<AgentManagementMsg, { type: 'agent.attach' }>,
): void {
  const agent = state.agents.get(msg.id);
  const ref = liveActor(ctx, state, msg.id);
  if (agent === undefined || agent.kind !== 'remote' || ref === undefined)
    return msg.replyTo.fail(
      new HubError('AGENT_NOT_FOUND', `no remote agent with id ${msg.id} on this node`, {
        details: { agent_id: msg.id },
      }),
    );
  deps.sessions.bind(msg.id, msg.session);
  pipe(
    msg.replyTo,
    ctx.ask<AgentMsg, AgentView>(ref, (replyTo) => ({ type: 'agent.connect', session: msg.session, replyTo })),
  );
}

/** A remote agent's connection is gone past its grace: its tasks are requeued, it is offline until it reconnects. */
function detach(deps: ModuleDeps, ctx: Ctx, state: State, id: string, reason: string): void {
  deps.sessions.unbind(id);
  if (!tellAgent(ctx, state, id, { type: 'agent.disconnect', reason })) deps.engine.removeAgent(id, reason);
}

/** Stats and learning from a stored batch of task ends: one message to each agent's actor. */
function outcomes(ctx: Ctx, state: State, batch: AgentOutcome[]): void {
  for (const o of batch) {
    if (!state.agents.has(o.agentId)) continue;
    state.completed += o.completed;
    state.failed += o.failed;
    tellAgent(ctx, state, o.agentId, { type: 'agent.outcome', outcome: o });
  }
}

/** An agent's actor went past its restart intensity: the agent is `failed` and takes no new work until restarted. */
async function agentFailed(deps: ModuleDeps, ctx: Ctx, state: State, name: string, error: string): Promise<void> {
  const id = name.slice(agentActorName('').length);
  const agent = state.agents.get(id);
  if (agent === undefined) return;
  const next: Agent = { ...agent, state: 'failed' };
  state.agents.set(id, next);
  if (runsHere(deps, next)) deps.engine.setAgent(next); // its deque goes to other agents; what it runs finishes
  deps.log.error(
    { event: 'agent.failed', agent_id: id, error },
    `agent ${agent.name} failed: its actor crashed past its restart intensity (${error}); POST /api/agents/${id}/restart restarts it`,
  );
  deps.events.publish('agents', 'agent.state_changed', viewOf(deps, ctx, state, next));
  try {
    await deps.store.updateAgent(id, { state: 'failed' });
  } catch (err) {
    deps.log.warn({ err, agent_id: id }, `storing agent ${agent.name} as failed failed: ${errorMessage(err)}`);
  }
}

/** Removes remote agents offline longer than [agents] offline_retention_seconds (their rows too). */
async function removeStale(deps: ModuleDeps, ctx: Ctx, state: State): Promise<void> {
  const cutoff = new Date(Date.now() - deps.config.agents.offline_retention_seconds * 1000).toISOString();
  for (const a of [...state.agents.values()]) {
    if (a.kind !== 'remote' || a.state !== 'offline' || deps.sessions.isConnected(a.id) || a.updated_at > cutoff)
      continue;
    await deps.store.deleteAgent(a.id);
    dropAgent(ctx, state, a.id);
    deps.log.info(
      { event: 'agent.expired', agent_id: a.id, name: a.name },
      `offline agent ${a.name} removed after [agents] offline_retention_seconds`,
    );
    deps.events.publish('agents', 'agent.removed', { ...a });
  }
}

/** Each agent's actor stores what changed; offline agents past their retention are removed. */
async function flush(deps: ModuleDeps, ctx: Ctx, state: State, force: boolean): Promise<void> {
  for (const id of state.actors.keys()) tellAgent(ctx, state, id, { type: 'agent.flush', force });
  const every = Math.min(RETENTION_SWEEP_MS, deps.config.agents.offline_retention_seconds * 1000);
  if (Date.now() - state.sweptAt < every) return;
  try {
    state.sweptAt = Date.now();
    await removeStale(deps, ctx, state);
    state.outage.ok();
  } catch (err) {
    if (!state.outage.failed(err)) throw err;
  }
}

/** Sizes the local pool (agents named pool-<executor>-N): adds agents, or removes idle ones (the newest first). */
async function ensurePool(deps: ModuleDeps, ctx: Ctx, state: State, size: number): Promise<Agent[]> {
  const { default_executor: executor, default_capabilities: caps } = deps.config.agents;
  const pool = poolAgents(state, executor);
  const used = new Set(pool.map((a) => a.name));
  for (let i = 1; pool.length < size; i++) {
    const name = `pool-${executor}-${i}`;
    if (used.has(name)) continue;
    const capabilities = parseCapabilities(caps, 'agents.default_capabilities');
    const created = await register(deps, ctx, state, {
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
    await removeAgent(deps, ctx, state, victim.id);
    pool.splice(
      pool.findIndex((a) => a.id === victim.id),
      1,
    );
  }
  return pool;
}

/** The agent_management module actor. */
// size: one case per message type.
export function agentManagementSpec(deps: ModuleDeps): ActorSpec<AgentManagementMsg, State> {
  return {
    name: 'agent_management',
    init: (ctx) => init(deps, ctx),
    receive: async (state, msg, ctx) => {
      if (isAgentOperation(msg)) {
        await serveOperation(deps, ctx, state, msg);
        return state;
      }
      switch (msg.type) {
        case 'agent.changed':
          if (state.actors.has(msg.agent.id)) state.agents.set(msg.agent.id, msg.agent);
          return state;
        case 'agent.failed':
          await agentFailed(deps, ctx, state, msg.name, msg.error);
          return state;
        case 'agent.register':
          await registerRemote(deps, ctx, state, msg);
          return state;
        case 'agent.attach':
          attach(deps, ctx, state, msg);
          return state;
        case 'agent.detach':
          detach(deps, ctx, state, msg.id, msg.reason);
          return state;
        case 'agent.disconnected':
          deps.engine.setReachable(msg.id, false);
          return state;
        case 'agent.list':
          await answer(msg.replyTo, () => list(deps, ctx, state, msg.filter));
          return state;
        case 'agent.summarize':
          msg.replyTo.ok(summarize(deps, state));
          return state;
        case 'agent.ensure_pool':
          await answer(msg.replyTo, () =>
            ensurePool(deps, ctx, state, msg.size ?? deps.config.agents.default_pool_size),
          );
          return state;
        case 'agent.check_assignable':
          await answer(msg.replyTo, () => checkAssignable(deps, state, msg.id, msg.required));
          return state;
        case 'agent.outcomes':
          outcomes(ctx, state, msg.outcomes);
          return state;
        case 'agent.flush':
          await flush(deps, ctx, state, false);
          return state;
        case 'agent.restore':
          await flush(deps, ctx, state, true);
          return state;
        case 'module.ping':
          msg.replyTo.ok(true);
          return state;
        default:
          return assertNever(msg);
      }
    },
    childFailed: (name, error) => ({ type: 'agent.failed', name, error: errorMessage(error) }),
  };
}
