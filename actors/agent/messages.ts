import type { Task } from '../../src/domain/index.js';
import type { Outcome } from './execute.js';

/** Messages to one local agent's actor. */
export type AgentMsg =
  /** Run a task the distributor assigned to this agent (attempt = task.attempts). */
  | { type: 'agent.run'; task: Task }
  /** The handler finished (sent by the execution to the agent's stable ref; re-sent if lost). */
  | { type: 'agent.finished'; taskId: string; attempt: number }
  /** Re-sends ends whose report was lost (a restart dropped the message). */
  | { type: 'agent.recover' };

/** What an agent reports to agent_management when a task leaves it. */
export type TaskDone = {
  agentId: string;
  taskId: string;
  /** stale: the task had moved on (cancelled, requeued) before this agent could start or finish it. */
  outcome: Outcome['kind'] | 'stale';
  durationMs: number;
};
