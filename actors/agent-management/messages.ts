import type { Agent, AgentState, AgentUpdate, NewAgent, RequiredCapability, Task } from '../../src/domain/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import type { AgentFilter, Page } from '../../src/storage/index.js';
import type { TaskDone } from '../agent/messages.js';
import type { ModulePing } from '../shared/messages.js';

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
}

/** A local agent with room for more tasks. */
export interface AgentSlot {
  agent: Agent;
  running: number;
  free: number;
}

/** An agent as the API shows it: the stored record plus what it runs now. */
export type AgentView = Agent & { running_tasks: number };

/** Commands to agent_management; each replies on replyTo unless it is a notice. */
export type AgentManagementMsg =
  | { type: 'agent.register'; agent: NewAgent; replyTo: ReplyTo<AgentView> }
  | { type: 'agent.get'; id: string; replyTo: ReplyTo<AgentView> }
  | { type: 'agent.list'; filter: AgentFilter; replyTo: ReplyTo<Page<AgentView>> }
  | { type: 'agent.update'; id: string; update: AgentUpdate; replyTo: ReplyTo<AgentView> }
  | { type: 'agent.set_paused'; id: string; paused: boolean; replyTo: ReplyTo<AgentView> }
  | { type: 'agent.remove'; id: string; replyTo: ReplyTo<AgentView> }
  | { type: 'agent.summarize'; replyTo: ReplyTo<AgentSummary> }
  | { type: 'agent.ensure_pool'; replyTo: ReplyTo<Agent[]> }
  /** Local agents that can take a task now (not paused, below max_concurrency). */
  | { type: 'agent.available'; replyTo: ReplyTo<AgentSlot[]> }
  /** Checks that one agent can take a task with these requirements now (manual assignment). */
  | { type: 'agent.check_assignable'; id: string; required: RequiredCapability[]; replyTo: ReplyTo<AgentSlot> }
  /** Hands an assigned task to the agent's actor (a notice from the distributor). */
  | { type: 'agent.dispatch'; agentId: string; task: Task }
  /** A task left an agent (finished, cancelled, stale, or requeued by the distributor). */
  | { type: 'agent.task_done'; done: TaskDone }
  /** Periodic: persists agent stats changed since the last flush. */
  | { type: 'agent.flush' }
  | ModulePing;
