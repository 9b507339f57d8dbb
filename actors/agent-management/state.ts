/** agent_management's state, shared by its files: the node's index of agents and their actors. */
import type { Agent } from '../../src/domain/index.js';
import type { ActorContext, ActorRef } from '../../src/runtime/index.js';
import type { OutageTracker } from '../../src/storage/index.js';
import type { AgentMsg, AgentView } from '../agent/messages.js';
import type { ModuleDeps } from '../shared/deps.js';
import type { AgentManagementMsg } from './messages.js';

export interface State {
  /** This node's agents as their actors last told (each agent's actor owns its record). */
  agents: Map<string, Agent>;
  /** Each agent's actor, a child of this one. */
  actors: Map<string, ActorRef<AgentMsg>>;
  registered: number;
  removed: number;
  completed: number;
  failed: number;
  /** The retention sweep pauses while the database is away. */
  outage: OutageTracker;
  /** When offline agents were last checked against their retention (ms). */
  sweptAt: number;
}

export type Ctx = ActorContext<AgentManagementMsg>;

/** An agent of this node as the API shows it: its actor's restarts, what it runs now. */
export function viewOf(deps: ModuleDeps, ctx: Ctx, state: State, agent: Agent): AgentView {
  const ref = state.actors.get(agent.id);
  const current = state.agents.get(agent.id) ?? agent;
  return {
    ...current,
    running_tasks: deps.engine.load(agent.id),
    restarts: ref === undefined ? null : ctx.info(ref).restarts,
  };
}

/** An agent known here only from storage (another node's, or one whose node is gone): nothing running here, no actor here. */
export function storedView(agent: Agent): AgentView {
  return { ...agent, running_tasks: 0, restarts: null };
}

/** The agent's actor when it is alive (not failed, not stopped). */
export function liveActor(ctx: Ctx, state: State, id: string): ActorRef<AgentMsg> | undefined {
  const ref = state.actors.get(id);
  if (ref === undefined) return undefined;
  const status = ctx.info(ref).status;
  return status === 'failed' || status === 'stopped' ? undefined : ref;
}

/** Settles `replyTo` with the outcome of `work` without waiting for it here: the mailbox goes on meanwhile. */
export function pipe<R>(replyTo: { ok(v: R): void; fail(e: unknown): void }, work: Promise<R>): void {
  work.then(
    (v) => replyTo.ok(v),
    (e: unknown) => replyTo.fail(e),
  );
}
