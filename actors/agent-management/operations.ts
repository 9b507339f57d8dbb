/**
 * Operations on one agent (get, change, pause, remove, drain, cancel its work,
 * restart), served where the agent lives: by its actor on this node; on its
 * own node when another node of the cluster owns it (a remote ref: the message
 * goes there as plain data and is served there, never sent on again); on the
 * stored record when its node is gone. Replies are piped: this actor's mailbox
 * does not wait for an agent's actor or another node.
 */
import type { Agent } from '../../src/domain/index.js';
import { HubError } from '../../src/errors/index.js';
import type { ActorRef, ReplyTo } from '../../src/runtime/index.js';
import type { AgentChange, AgentMsg, AgentView } from '../agent/messages.js';
import type { ModuleDeps } from '../shared/deps.js';
import type { AgentManagementMsg, AgentOperation } from './messages.js';
import { liveActor, pipe, storedView, viewOf, type Ctx, type State } from './state.js';

type Where =
  | { at: 'actor'; ref: ActorRef<AgentMsg> | undefined; agent: Agent }
  | { at: 'node'; node: string }
  | { at: 'store'; agent: Agent };

const LIVE_MEMBER = new Set(['joining', 'active', 'suspect']);

function notFound(id: string): HubError {
  return new HubError('AGENT_NOT_FOUND', `no agent with id ${id}`, { details: { agent_id: id } });
}

/** Where an agent's operations are served (see the file comment). */
async function locate(deps: ModuleDeps, ctx: Ctx, state: State, id: string, forwarded: boolean): Promise<Where> {
  const agent = state.agents.get(id);
  if (agent !== undefined) return { at: 'actor', ref: liveActor(ctx, state, id), agent };
  const stored = await deps.store.getAgent(id);
  if (stored === undefined) throw notFound(id);
  const owner = stored.node_id;
  const live = deps.cluster?.members().some((m) => m.node_id === owner && LIVE_MEMBER.has(m.status)) === true;
  if (!forwarded && owner !== deps.nodeId && live) return { at: 'node', node: owner };
  return { at: 'store', agent: stored };
}

function asked<R>(ctx: Ctx, ref: ActorRef<AgentMsg>, msg: (replyTo: ReplyTo<R>) => AgentMsg): Promise<R> {
  return ctx.ask(ref, msg);
}

/** Sends the operation to the agent's node and gives its answer. */
function forward<R>(deps: ModuleDeps, node: string, msg: AgentOperation): Promise<R> {
  const body = { ...msg, forwarded: true } as Record<string, unknown>;
  delete body['replyTo'];
  // A drain waits there for the agent's tasks: the ask outlives that wait.
  const timeoutMs = msg.type === 'agent.drain' ? msg.timeoutMs + 5000 : undefined;
  return deps.cluster!.ask(
    node,
    'agent_management',
    (replyTo: ReplyTo<R>) => ({ ...body, replyTo }) as AgentManagementMsg,
    timeoutMs,
  );
}

function failedAgent(agent: Agent): HubError {
  return new HubError(
    'INVALID_STATE',
    `agent ${agent.name} failed (its actor crashed past its restart intensity); restart it with POST /api/agents/${agent.id}/restart`,
    { details: { agent_id: agent.id, state: 'failed' } },
  );
}

function notHere(agent: Agent): HubError {
  return new HubError(
    'AGENT_NOT_LOCAL',
    `agent ${agent.name} runs on node ${agent.node_id}, which is not reachable from this node`,
    { details: { agent_id: agent.id, node_id: agent.node_id } },
  );
}

/** Serves one agent operation; the reply is piped (settled later, from another promise). */
export async function serveOperation(deps: ModuleDeps, ctx: Ctx, state: State, msg: AgentOperation): Promise<void> {
  let where: Where;
  try {
    where = await locate(deps, ctx, state, msg.id, msg.forwarded === true);
  } catch (err) {
    msg.replyTo.fail(err);
    return;
  }
  if (where.at === 'node') return pipe(msg.replyTo as ReplyTo<unknown>, forward(deps, where.node, msg));
  if (where.at === 'store') return answerNow(msg.replyTo, () => onStored(deps, msg, where.agent));
  if (msg.type === 'agent.remove') return answerNow(msg.replyTo, () => removeAgent(deps, ctx, state, msg.id));
  const { ref, agent } = where;
  const restarts = (v: AgentView): AgentView => ({ ...v, restarts: ctx.info(state.actors.get(msg.id)!).restarts });
  if (msg.type === 'agent.restart') {
    const cell = state.actors.get(msg.id)!;
    ctx.restart(cell);
    return pipe(msg.replyTo, asked<AgentView>(ctx, cell, (replyTo) => ({ type: 'agent.get', replyTo })).then(restarts));
  }
  if (ref === undefined) {
    if (msg.type === 'agent.get') return msg.replyTo.ok(viewOf(deps, ctx, state, agent));
    return msg.replyTo.fail(failedAgent(agent));
  }
  const get = (): Promise<AgentView> =>
    asked<AgentView>(ctx, ref, (replyTo) => ({ type: 'agent.get', replyTo })).then(restarts);
  const change = (c: AgentChange): Promise<AgentView> =>
    asked<AgentView>(ctx, ref, (replyTo) => ({ type: 'agent.change', change: c, replyTo })).then(restarts);
  switch (msg.type) {
    case 'agent.get':
      return pipe(msg.replyTo, get());
    case 'agent.update':
      return pipe(msg.replyTo, change(msg.update));
    case 'agent.set_paused':
      return pipe(msg.replyTo, change({ paused: msg.paused }));
    case 'agent.drain':
      return pipe(
        msg.replyTo,
        change({ paused: true }).then(async () => {
          const drained = await deps.engine.whenIdle(msg.id, msg.timeoutMs);
          return { ...(await get()), drained };
        }),
      );
    case 'agent.cancel_work':
      return pipe(
        msg.replyTo,
        asked<number>(ctx, ref, (replyTo) => ({ type: 'agent.cancel_work', reason: msg.reason, replyTo })).then(
          async (requeued) => ({ ...(await get()), requeued }),
        ),
      );
  }
}

async function answerNow<R>(replyTo: ReplyTo<R>, work: () => Promise<R>): Promise<void> {
  try {
    replyTo.ok(await work());
  } catch (err) {
    replyTo.fail(err);
  }
}

/** An agent whose node is gone (or this one, when it is not loaded here): its stored record. */
async function onStored(deps: ModuleDeps, msg: AgentOperation, agent: Agent): Promise<AgentView> {
  switch (msg.type) {
    case 'agent.get':
      return storedView(agent);
    case 'agent.update':
    case 'agent.set_paused': {
      const patch = msg.type === 'agent.update' ? msg.update : { paused: msg.paused };
      const stored = await deps.store.updateAgent(agent.id, patch);
      if (stored === undefined) throw notFound(agent.id);
      return storedView(stored);
    }
    case 'agent.remove':
      await deps.store.deleteAgent(agent.id);
      deps.events.publish('agents', 'agent.removed', storedView(agent));
      return storedView(agent);
    default:
      throw notHere(agent);
  }
}

/** Removes an agent of this node: the engine aborts what it runs (those tasks go back to pending) and gives its deque to others. */
export async function removeAgent(deps: ModuleDeps, ctx: Ctx, state: State, id: string): Promise<AgentView> {
  const agent = state.agents.get(id);
  if (agent === undefined) throw notFound(id);
  const shown = viewOf(deps, ctx, state, agent);
  deps.engine.removeAgent(id, `agent ${agent.name} was removed`);
  deps.sessions.unbind(id);
  await deps.store.deleteAgent(id);
  dropAgent(ctx, state, id);
  state.removed++;
  deps.log.info({ event: 'agent.removed', agent_id: id }, `agent ${agent.name} removed`);
  deps.events.publish('agents', 'agent.removed', shown);
  return shown;
}

/** Forgets an agent here and stops its actor. */
export function dropAgent(ctx: Ctx, state: State, id: string): void {
  const ref = state.actors.get(id);
  state.actors.delete(id);
  state.agents.delete(id);
  if (ref !== undefined) ctx.stop(ref);
}
