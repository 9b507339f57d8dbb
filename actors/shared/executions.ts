/**
 * The node's running executions, by task id. They belong to the node, not to an
 * actor incarnation: when agent_management or an agent actor restarts, running
 * handlers keep running, the new incarnation finds them here, and cancellation
 * still reaches them.
 */
export interface Execution {
  taskId: string;
  agentId: string;
  attempt: number;
  controller: AbortController;
  startedAt: number;
  /** Set when the handler ended; kept until the agent actor has stored it (a report lost in a restart is re-sent). */
  settled?: { outcome: Outcome; durationMs: number; at: number };
}

import type { Outcome } from '../agent/execute.js';

export class Executions {
  private readonly byTask = new Map<string, Execution>();

  start(taskId: string, agentId: string, attempt: number): Execution {
    const execution: Execution = { taskId, agentId, attempt, controller: new AbortController(), startedAt: performance.now() };
    this.byTask.set(taskId, execution);
    return execution;
  }

  /** Forgets an execution once it reported, unless a newer attempt replaced it. */
  finish(taskId: string, attempt: number): void {
    if (this.byTask.get(taskId)?.attempt === attempt) this.byTask.delete(taskId);
  }

  /** Records how the handler ended (before the agent actor is told). */
  settle(taskId: string, attempt: number, outcome: Outcome): Execution | undefined {
    const e = this.byTask.get(taskId);
    if (e === undefined || e.attempt !== attempt) return undefined;
    e.settled = { outcome, durationMs: performance.now() - e.startedAt, at: performance.now() };
    return e;
  }

  /** The execution of this task attempt, if it has not been stored yet. */
  get(taskId: string, attempt: number): Execution | undefined {
    const e = this.byTask.get(taskId);
    return e?.attempt === attempt ? e : undefined;
  }

  /** Ended executions whose end was not stored within olderThanMs (their report was lost): re-send them. */
  unreported(agentId: string, olderThanMs = 0): Execution[] {
    const now = performance.now();
    return [...this.byTask.values()].filter((e) => e.agentId === agentId && e.settled !== undefined && now - e.settled.at >= olderThanMs);
  }

  has(taskId: string): boolean {
    return this.byTask.has(taskId);
  }

  /** Aborts a task's execution; false when none runs here. */
  abort(taskId: string, reason: Error): boolean {
    const e = this.byTask.get(taskId);
    if (e === undefined) return false;
    e.controller.abort(reason);
    return true;
  }

  forAgent(agentId: string): Execution[] {
    return [...this.byTask.values()].filter((e) => e.agentId === agentId);
  }

  abortAll(reason: Error): void {
    for (const e of this.byTask.values()) e.controller.abort(reason);
  }

  get size(): number {
    return this.byTask.size;
  }
}
