/**
 * Remote agents' sessions: how the engine reaches a remote agent. The gRPC
 * AgentService adds a session per connected agent (its dispatcher: sends a task
 * down the agent's stream and waits for its result) under a random session id;
 * agent_management binds the agent to it and the engine holds only that id, so
 * the messages that say a remote agent registered or reconnected are plain data,
 * like every message that may cross nodes. It belongs to the node (like the
 * store): a restart of agent_management finds the connections here, and the
 * module keeps no state of its own outside the runtime.
 */
import type { Handler } from './handler.js';

export class Sessions {
  private readonly dispatchers = new Map<string, Handler>();
  /** Which session each connected remote agent runs through (agent_management binds them). */
  private readonly byAgent = new Map<string, string>();

  add(session: string, dispatcher: Handler): void {
    this.dispatchers.set(session, dispatcher);
  }

  /** The session ended for good (its grace is over, or the agent was removed). */
  delete(session: string): void {
    this.dispatchers.delete(session);
  }

  dispatcher(session: string): Handler | undefined {
    return this.dispatchers.get(session);
  }

  /** The agent registered or reconnected through this session. */
  bind(agentId: string, session: string): void {
    this.byAgent.set(agentId, session);
  }

  /** The agent is no longer connected through any session (gone past its grace, or removed). */
  unbind(agentId: string): void {
    this.byAgent.delete(agentId);
  }

  sessionOf(agentId: string): string | undefined {
    return this.byAgent.get(agentId);
  }

  isConnected(agentId: string): boolean {
    return this.byAgent.has(agentId);
  }
}
