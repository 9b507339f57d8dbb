/**
 * One agent's actor, a child of agent_management named `agent-<id>`: the one
 * owner of the agent's record on this node (state, pause, limits, stats and
 * learned proficiencies) and the one writer of its row. The engine's slot
 * holds its deque and running handlers: those belong to the node and outlive
 * an incarnation, so a restart loses and re-runs no task.
 *
 * A crash (its row refused by the store for a reason other than an outage, a
 * poisoned outcome) restarts it with backoff under the [supervision] policy;
 * init rebuilds the record from storage. Past the restart intensity it
 * escalates: agent_management marks the agent `failed` (it takes no new work)
 * until POST /api/agents/:id/restart. One agent's failure touches no other.
 */
import { learn, type Agent, type AgentState } from '../../src/domain/index.js';
import { HubError, assertNever, isOutage } from '../../src/errors/index.js';
import type { ActorContext, ActorRef, ActorSpec } from '../../src/runtime/index.js';
import type { AgentOutcome } from '../../src/engine/types.js';
import type { ModuleDeps } from '../shared/deps.js';
import { answer } from '../shared/answer.js';
import type { AgentChange, AgentMsg, AgentNotice, AgentView } from './messages.js';

interface State {
  agent: Agent;
  /** The state last stored while the record has changes not stored yet; undefined: stored. */
  storedState: AgentState | undefined;
}

type Ctx = ActorContext<AgentMsg>;

/** The actor name of an agent (agent_management's children). */
export function agentActorName(id: string): string {
  return `agent-${id}`;
}

/** Runs here: a local agent, or a remote agent connected to this node. */
export function runsHere(deps: ModuleDeps, agent: Agent): boolean {
  return agent.kind === 'local' || deps.sessions.isConnected(agent.id);
}

/** Stats and learning from one stored batch of the agent's task ends. */
export function withOutcome(agent: Agent, o: AgentOutcome, learningRate: number): Agent {
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
  if (learningRate > 0)
    for (const r of o.results)
      if (r.required.length > 0) capabilities = learn(capabilities, r.required, r.success, learningRate);
  return { ...agent, stats, capabilities };
}

/** What every handler of one agent's actor works with. */
interface Own {
  deps: ModuleDeps;
  id: string;
  parent: ActorRef<AgentNotice>;
  ctx: Ctx;
}

function viewOf(o: Own, s: State): AgentView {
  return { ...s.agent, running_tasks: o.deps.engine.load(o.id), restarts: null };
}

/** Tells the supervisor the record changed (its index). */
function changed(o: Own, s: State): void {
  o.ctx.tell(o.parent, { type: 'agent.changed', agent: s.agent });
}

/** The state the engine says it has now: working, idle, or (a remote one not connected) offline. */
function liveState(o: Own, agent: Agent): AgentState {
  if (!runsHere(o.deps, agent)) return 'offline';
  return o.deps.engine.load(o.id) > 0 ? 'working' : 'idle';
}

function markDirty(state: State): void {
  if (state.storedState === undefined) state.storedState = state.agent.state;
}

/** Each incarnation's start: the record from storage; `failed` (what its supervisor stored when it gave up) becomes live. */
async function start(o: Own): Promise<State> {
  const stored = await o.deps.store.getAgent(o.id);
  if (stored === undefined)
    throw new HubError('AGENT_NOT_FOUND', `no agent with id ${o.id}`, { details: { agent_id: o.id } });
  const state: State = { agent: stored, storedState: undefined };
  if (stored.state === 'failed') {
    state.agent = { ...stored, state: liveState(o, stored) };
    await o.deps.store.updateAgent(o.id, { state: state.agent.state });
    o.deps.events.publish('agents', 'agent.state_changed', viewOf(o, state));
  }
  if (runsHere(o.deps, state.agent)) o.deps.engine.setAgent(state.agent, o.deps.sessions.sessionOf(o.id));
  changed(o, state);
  return state;
}

async function change(o: Own, state: State, patch: AgentChange): Promise<AgentView> {
  if (state.storedState !== undefined) await store(o, state); // keep what it learned
  const stored = await o.deps.store.updateAgent(o.id, patch);
  if (stored === undefined)
    throw new HubError('AGENT_NOT_FOUND', `no agent with id ${o.id}`, { details: { agent_id: o.id } });
  state.agent = { ...stored, state: state.agent.state };
  if (runsHere(o.deps, state.agent)) o.deps.engine.setAgent(state.agent);
  changed(o, state);
  const type = patch.paused === undefined ? 'agent.updated' : 'agent.state_changed';
  o.deps.events.publish('agents', type, viewOf(o, state));
  return viewOf(o, state);
}

async function connect(o: Own, state: State, session: string, takeOver?: AgentChange): Promise<AgentView> {
  const { deps, id } = o;
  if (takeOver !== undefined) deps.engine.removeAgent(id, `agent ${state.agent.name} reconnected as a new session`);
  const next: Agent = { ...state.agent, ...takeOver, state: deps.engine.load(id) > 0 ? 'working' : 'idle' };
  await deps.store.updateAgent(id, { ...takeOver, state: next.state });
  state.agent = next;
  state.storedState = undefined;
  deps.engine.setAgent(next, session);
  deps.engine.setReachable(id, true);
  changed(o, state);
  deps.events.publish('agents', 'agent.state_changed', viewOf(o, state));
  return viewOf(o, state);
}

async function disconnect(o: Own, state: State, reason: string): Promise<void> {
  const { deps, id } = o;
  deps.engine.removeAgent(id, reason);
  state.agent = { ...state.agent, state: 'offline' };
  state.storedState = undefined;
  const { stats, capabilities } = state.agent;
  await deps.store.updateAgent(id, { state: 'offline', stats, capabilities });
  deps.log.info({ event: 'agent.detached', agent_id: id, reason }, `agent ${state.agent.name} is offline: ${reason}`);
  changed(o, state);
  deps.events.publish('agents', 'agent.state_changed', viewOf(o, state));
}

function outcome(o: Own, state: State, result: AgentOutcome): void {
  const next = withOutcome(state.agent, result, o.deps.config.agents.learning_rate);
  markDirty(state);
  const learned = next.capabilities !== state.agent.capabilities;
  state.agent = next;
  if (learned && runsHere(o.deps, next)) o.deps.engine.setAgent(next);
}

/** Derives idle/working from the engine and stores what changed; an outage keeps it for the next flush. */
async function flush(o: Own, state: State): Promise<void> {
  if (state.agent.state !== 'offline' || runsHere(o.deps, state.agent)) {
    const next = liveState(o, state.agent);
    if (next !== state.agent.state) {
      markDirty(state);
      state.agent = { ...state.agent, state: next };
    }
  }
  if (state.storedState === undefined) return;
  try {
    await store(o, state);
  } catch (err) {
    // A refusal that is not an outage crashes this actor: its supervisor restarts it from its stored row.
    if (!isOutage(err)) throw err;
  }
}

async function store(o: Own, state: State): Promise<void> {
  const before = state.storedState;
  const { state: s, stats, capabilities } = state.agent;
  await o.deps.store.updateAgent(o.id, { state: s, stats, capabilities });
  state.storedState = undefined;
  changed(o, state);
  if (s !== before) o.deps.events.publish('agents', 'agent.state_changed', viewOf(o, state));
}

export function agentActorSpec(
  deps: ModuleDeps,
  parent: ActorRef<AgentNotice>,
  id: string,
): ActorSpec<AgentMsg, State> {
  const own = (ctx: Ctx): Own => ({ deps, id, parent, ctx });
  return {
    name: agentActorName(id),
    init: (ctx) => start(own(ctx)),
    receive: async (state, msg, ctx) => {
      const o = own(ctx);
      switch (msg.type) {
        case 'agent.get':
          msg.replyTo.ok(viewOf(o, state));
          return state;
        case 'agent.change':
          await answer(msg.replyTo, () => change(o, state, msg.change));
          return state;
        case 'agent.connect':
          await answer(msg.replyTo, () => connect(o, state, msg.session, msg.takeOver));
          return state;
        case 'agent.disconnect':
          await disconnect(o, state, msg.reason);
          return state;
        case 'agent.cancel_work':
          msg.replyTo.ok(deps.engine.takeWorkFrom(id, msg.reason));
          return state;
        case 'agent.outcome':
          outcome(o, state, msg.outcome);
          return state;
        case 'agent.flush':
          if (msg.force === true) markDirty(state);
          await flush(o, state);
          return state;
        default:
          return assertNever(msg);
      }
    },
  };
}
