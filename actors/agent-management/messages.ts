import type { Agent, AgentState, AgentUpdate, NewAgent, RequiredCapability } from '../../src/domain/index.js';
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

/** An agent as the API shows it: the stored record plus what it runs now. */
export type AgentView = Agent & { running_tasks: number };

/** Commands to agent_management; each replies on replyTo unless it is a notice. */
export type AgentManagementMsg =
  /** `session`: a remote agent's session id (Sessions), which runs its tasks; local agents use their executor. */
  | { type: 'agent.register'; agent: NewAgent; session?: string; replyTo: ReplyTo<AgentView> }
  /** A remote agent's connection is back (resume): it takes tasks again through `session`. */
  | { type: 'agent.attach'; id: string; session: string; replyTo: ReplyTo<AgentView> }
  /** A remote agent's connection is gone for good: its tasks go back to the queue, the agent is offline. */
  | { type: 'agent.detach'; id: string; reason: string }
  /** A remote agent's connection broke: no new tasks until it resumes (its running ones wait for the grace). */
  | { type: 'agent.disconnected'; id: string }
  | { type: 'agent.get'; id: string; replyTo: ReplyTo<AgentView> }
  | { type: 'agent.list'; filter: AgentFilter; replyTo: ReplyTo<Page<AgentView>> }
  | { type: 'agent.update'; id: string; update: AgentUpdate; replyTo: ReplyTo<AgentView> }
  | { type: 'agent.set_paused'; id: string; paused: boolean; replyTo: ReplyTo<AgentView> }
  | { type: 'agent.remove'; id: string; replyTo: ReplyTo<AgentView> }
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
