import type { Agent, AgentState, AgentUpdate, NewAgent, RequiredCapability } from '../../src/domain/index.js';
import type { AgentNotice, AgentView } from '../agent/messages.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import type { AgentFilter, Page } from '../../src/storage/index.js';
import type { AgentOutcome } from '../../src/engine/types.js';
import type { ModulePing } from '../../src/runtime/index.js';

export interface AgentSummary {
  total: number;
  by_state: Record<AgentState, number>;
  local: number;
  remote: number;
  paused: number;
  busy: number;
  capacity: number;
  running_tasks: number;
  utilization_percent: number;
  registered_since_start: number;
  removed_since_start: number;
  tasks_completed_since_start: number;
  tasks_failed_since_start: number;
  pool: { size: number; min: number; max: number };
}

/** A local agent and how many tasks it runs now. */
export interface AgentSlot {
  agent: Agent;
  running: number;
  free: number;
}

export type { AgentView };

/** Whether the operation came from another node (it is then served here, never sent on again). */
type Routed = { forwarded?: boolean };

/** Drained: the agent is paused and runs nothing (false: `timeout_ms` passed first, `running_tasks` say what is left). */
export type DrainedView = AgentView & { drained: boolean };

/** How many of the agent's running and queued tasks went back to pending. */
export type CancelledView = AgentView & { requeued: number };

/**
 * The agent operations that reach the agent's own node (they act on its engine
 * slot and actor): served here for this node's agents, sent to the owner node
 * otherwise (cluster mode), or done on the stored record when that node is gone.
 */
export type AgentOperation =
  | ({ type: 'agent.get'; id: string; replyTo: ReplyTo<AgentView> } & Routed)
  | ({ type: 'agent.update'; id: string; update: AgentUpdate; replyTo: ReplyTo<AgentView> } & Routed)
  | ({ type: 'agent.set_paused'; id: string; paused: boolean; replyTo: ReplyTo<AgentView> } & Routed)
  | ({ type: 'agent.remove'; id: string; replyTo: ReplyTo<AgentView> } & Routed)
  /** Pauses the agent and replies once it runs nothing, or after timeoutMs. */
  | ({ type: 'agent.drain'; id: string; timeoutMs: number; replyTo: ReplyTo<DrainedView> } & Routed)
  /** Its running and queued tasks go back to pending for other agents. */
  | ({ type: 'agent.cancel_work'; id: string; reason: string; replyTo: ReplyTo<CancelledView> } & Routed)
  /** Restarts the agent's actor (state rebuilt from storage); one that failed is respawned and takes work again. */
  | ({ type: 'agent.restart'; id: string; replyTo: ReplyTo<AgentView> } & Routed);

const AGENT_OPERATIONS: ReadonlySet<string> = new Set<AgentOperation['type']>([
  'agent.get',
  'agent.update',
  'agent.set_paused',
  'agent.remove',
  'agent.drain',
  'agent.cancel_work',
  'agent.restart',
]);

/** True for an operation on one agent (also what a node takes from other nodes: see operations.ts). */
export function isAgentOperation(msg: unknown): msg is AgentOperation {
  if (typeof msg !== 'object' || msg === null) return false;
  const m = msg as Record<string, unknown>;
  return typeof m['type'] === 'string' && AGENT_OPERATIONS.has(m['type']) && typeof m['id'] === 'string';
}

/** Commands to agent_management; each replies on replyTo unless it is a notice. */
export type AgentManagementMsg =
  | AgentOperation
  | AgentNotice
  /** An agent's actor went past its restart intensity (its supervisor's notice). */
  | { type: 'agent.failed'; name: string; error: string }
  /** `session`: a remote agent's session id (Sessions), which runs its tasks; local agents use their executor. */
  | { type: 'agent.register'; agent: NewAgent; session?: string; replyTo: ReplyTo<AgentView> }
  /** A remote agent's connection is back (resume): it takes tasks again through `session`. */
  | { type: 'agent.attach'; id: string; session: string; replyTo: ReplyTo<AgentView> }
  /** A remote agent's connection is gone for good: its tasks go back to the queue, the agent is offline. */
  | { type: 'agent.detach'; id: string; reason: string }
  /** A remote agent's connection broke: no new tasks until it resumes (its running ones wait for the grace). */
  | { type: 'agent.disconnected'; id: string }
  | { type: 'agent.list'; filter: AgentFilter; replyTo: ReplyTo<Page<AgentView>> }
  | { type: 'agent.summarize'; replyTo: ReplyTo<AgentSummary> }
  /** Tops the local pool (agents named pool-*) up or down to `size`; returns the pool's agents. */
  | { type: 'agent.ensure_pool'; size?: number; replyTo: ReplyTo<Agent[]> }
  /** Checks that one agent can take a task with these requirements now (manual assignment). */
  | { type: 'agent.check_assignable'; id: string; required: RequiredCapability[]; replyTo: ReplyTo<AgentSlot> }
  /** What the agents' tasks did in one stored batch (stats and learning; a notice from the engine). */
  | { type: 'agent.outcomes'; outcomes: AgentOutcome[] }
  /** Periodic: derives idle/working from the engine and stores changed state and stats. */
  | { type: 'agent.flush' }
  /** This node rejoined its cluster after being declared dead (which marked its agents offline): store their states again. */
  | { type: 'agent.restore' }
  | ModulePing;
