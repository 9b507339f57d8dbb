/**
 * Remote agents' sessions: how the engine reaches a remote agent. The gRPC
 * AgentService adds a session per connected agent (its dispatcher: sends a task
 * down the agent's stream and waits for its result) under a random session id;
 * agent_management and the engine hold only that id, so the messages that say a
 * remote agent registered or reconnected are plain data, like every message
 * that may cross nodes.
 */
import type { Handler } from './handler.js';

export class Sessions {
  private readonly dispatchers = new Map<string, Handler>();

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
}
