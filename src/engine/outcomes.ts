/** What a stored batch of ends tells observers (task events), the agents (outcomes) and the fit model (samples). */
import type { Task } from '../domain/index.js';
import type { EventBus } from '../runtime/index.js';
import type { TaskFinish } from '../storage/index.js';
import type { FitSample } from '../neural/fit-features.js';
import type { Outcome } from './execute.js';
import type { AgentOutcome, EngineCounters } from './types.js';

/** An end waiting for the group commit. */
export interface PendingFinish {
  finish: TaskFinish;
  task: Task;
  agentId: string;
  outcome: Outcome;
  durationMs: number;
  fit?: number[] | undefined;
  /** Set when this end replaces one the database refused (so a second refusal is not replaced again). */
  replacesRefused?: true;
}

/**
 * Publishes the lifecycle events of the ends the store applied, in lifecycle
 * order (`coalesced`: ends whose start was never stored on its own get their
 * started event first), and sums what each agent did.
 */
export function publishEnds(
  events: EventBus,
  counters: EngineCounters,
  finishes: readonly PendingFinish[],
  applied: ReadonlySet<string>,
  coalesced: ReadonlySet<string>,
): { outcomes: AgentOutcome[]; samples: FitSample[] } {
  const outcomes = new Map<string, AgentOutcome>();
  const samples: FitSample[] = [];
  for (const f of finishes) {
    if (!applied.has(f.finish.id)) continue;
    const learns = f.outcome.kind === 'completed' || f.outcome.kind === 'failed';
    if (f.fit !== undefined && learns) samples.push({ features: f.fit, success: f.outcome.kind === 'completed' });
    // Event data is built only if a listener reads it (most only count events).
    const t = (): Task => ({
      ...f.task,
      status: f.finish.status,
      started_at: f.finish.startedAt,
      completed_at: f.finish.completedAt,
      result: f.finish.status === 'completed' ? (f.finish.result ?? null) : null,
      error: f.finish.error ?? null,
      ...(f.finish.wait === undefined
        ? {}
        : { wait_for: f.finish.wait.wait_for, wake_at: f.finish.wait.wake_at, checkpoint: f.finish.wait.checkpoint }),
      assigned_agent: f.finish.status === 'pending' ? null : f.agentId,
    });
    if (coalesced.has(f.finish.id))
      events.publish('tasks', 'task.started', () => ({
        ...t(),
        status: 'running',
        completed_at: null,
        result: null,
        error: null,
        assigned_agent: f.agentId,
      }));
    counters.stored_finishes++;
    events.publish('tasks', endEvent(f, counters), t);
    if (learns) addOutcome(outcomes, f);
  }
  return { outcomes: [...outcomes.values()], samples };
}

/** The event type of a stored end (and the counters it moves). */
function endEvent(f: PendingFinish, counters: EngineCounters): string {
  switch (f.finish.status) {
    case 'completed':
      return 'task.completed';
    case 'waiting':
      return 'task.suspended';
    case 'pending':
      if (f.outcome.kind !== 'failed') return 'task.requeued';
      counters.retries_scheduled++;
      return 'task.retrying';
    case 'dead':
      counters.dead++;
      return 'task.dead';
    default:
      return 'task.failed';
  }
}

function addOutcome(outcomes: Map<string, AgentOutcome>, f: PendingFinish): void {
  let o = outcomes.get(f.agentId);
  if (o === undefined)
    outcomes.set(f.agentId, (o = { agentId: f.agentId, completed: 0, failed: 0, durationMsTotal: 0, results: [] }));
  if (f.outcome.kind === 'completed') o.completed++;
  else o.failed++;
  o.durationMsTotal += f.durationMs;
  o.results.push({ required: f.task.required_capabilities, success: f.outcome.kind === 'completed' });
}
