import type { Agent, AgentUpdate } from '../../src/domain/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import type { AgentOutcome } from '../../src/engine/types.js';

/** An agent as the API shows it: its record, what it runs now, and its actor's restarts (null: its actor is on another node's list, ask that node). */
export type AgentView = Agent & { running_tasks: number; restarts: number | null };

/** A change an operator asks for: the record's fields, and pause. */
export type AgentChange = AgentUpdate & { paused?: boolean };

/** What one agent's actor takes (from agent_management, its supervisor). */
export type AgentMsg =
  | { type: 'agent.get'; replyTo: ReplyTo<AgentView> }
  | { type: 'agent.change'; change: AgentChange; replyTo: ReplyTo<AgentView> }
  /**
   * A remote agent's connection (a new one, or back within its grace) runs its tasks through `session`.
   * `takeOver`: it reconnected without its resume token: what the old connection ran is requeued, and its declared fields win.
   */
  | { type: 'agent.connect'; session: string; takeOver?: AgentUpdate; replyTo: ReplyTo<AgentView> }
  /** A remote agent's connection is gone past its grace: its tasks go back to the queue, it is offline. */
  | { type: 'agent.disconnect'; reason: string }
  /** Its running and queued tasks go back to pending for other agents (it keeps taking work). */
  | { type: 'agent.cancel_work'; reason: string; replyTo: ReplyTo<number> }
  /** What its tasks did in one stored batch: stats and learning. */
  | { type: 'agent.outcome'; outcome: AgentOutcome }
  /** Periodic: derives idle/working from the engine and stores what changed; `force`: store it even if unchanged. */
  | { type: 'agent.flush'; force?: boolean };

/** What an agent's actor tells its supervisor: its record changed (agent_management keeps the node's index). */
export type AgentNotice = { type: 'agent.changed'; agent: Agent };
