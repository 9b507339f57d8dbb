/**
 * Claim and placement: the local agents' slots (deque, running attempts,
 * reservations) and the one "best slot" rule that claim placement, direct
 * hand-off and work stealing share: among the agents that take work, the one
 * with the highest score, where each use says how it scores an agent.
 */
import { fitScore, missingCapability, type Agent, type Task } from '../domain/index.js';
import { loadDiscount } from '../neural/fit-features.js';
import type { Running } from './execution.js';

export interface Slot {
  agent: Agent;
  /** A remote agent's session (Sessions): it runs tasks through that, not through an executor of this node. */
  session: string | undefined;
  deque: Task[];
  running: Map<string, Running>;
  /** Slots promised to submissions being stored right now (direct hand-off). */
  reserved: number;
  /** Agents with the same profile (local, same executor and capabilities) are interchangeable: the fit model has nothing to choose between them. */
  profile: string;
  /** A remote agent whose connection is gone (within its grace): it keeps its running tasks and gets no new ones. */
  unreachable?: boolean;
}

export function newSlot(agent: Agent, session: string | undefined): Slot {
  return { agent, session, deque: [], running: new Map(), reserved: 0, profile: profileOf(agent) };
}

/** Whether an agent is given new tasks: not paused, not failed (its actor past its restart intensity), and (a remote one) connected. */
export function takesWork(s: Slot): boolean {
  return !s.agent.paused && s.agent.state !== 'failed' && s.unreachable !== true;
}

export function profileOf(agent: Agent): string {
  const caps = agent.capabilities
    .map((c) => `${c.name}:${c.proficiency}`)
    .sort()
    .join(',');
  return agent.kind === 'local' ? `local|${agent.executor ?? ''}|${caps}` : `remote|${agent.id}`;
}

/** An agent's load as placement counts it: running and queued against its prefetched capacity. */
export function queuedLoad(s: Slot, prefetch: number): { running: number; capacity: number } {
  return { running: s.running.size + s.deque.length, capacity: s.agent.max_concurrency * prefetch };
}

/**
 * The best slot: the highest score among the agents that take work. `score`
 * says how one use rates an agent (undefined: not a candidate); it is given the
 * score to beat, so that it can skip costly work for an agent that cannot win.
 */
export function bestSlot(
  slots: Iterable<Slot>,
  score: (s: Slot, toBeat: number) => number | undefined,
): Slot | undefined {
  return bestOf(slots, score, true);
}

/** The highest-scoring slot; `working`: only agents that take work (a victim of stealing may be paused). */
function bestOf(
  slots: Iterable<Slot>,
  score: (s: Slot, toBeat: number) => number | undefined,
  working: boolean,
): Slot | undefined {
  let best: Slot | undefined;
  let bestScore = 0;
  for (const s of slots) {
    if (working && !takesWork(s)) continue;
    const v = score(s, bestScore);
    if (v === undefined || v <= bestScore) continue;
    best = s;
    bestScore = v;
  }
  return best;
}

/** Direct hand-off: an idle capable agent (a free slot, nothing queued), by declared fit. */
export function idleSlotFor(slots: Iterable<Slot>, required: Task['required_capabilities']): Slot | undefined {
  return bestSlot(slots, (s) => {
    const busy = s.running.size + s.reserved;
    if (s.deque.length > 0 || busy >= s.agent.max_concurrency) return undefined;
    return fitScore(s.agent, required, { running: busy, capacity: s.agent.max_concurrency });
  });
}

/**
 * A claimed task's agent, load counted: by the fit model's P(success) when
 * `fit` has the task (an agent it did not score is not capable), else by
 * declared capabilities.
 */
export function slotFor(
  slots: Iterable<Slot>,
  task: Task,
  prefetch: number,
  fit: ReadonlyMap<string, number> | undefined,
): Slot | undefined {
  return bestSlot(slots, (s) => {
    if (fit === undefined) return fitScore(s.agent, task.required_capabilities, queuedLoad(s, prefetch));
    const p = fit.get(s.agent.id);
    return p === undefined ? undefined : Math.max(1e-6, p) * loadDiscount(queuedLoad(s, prefetch));
  });
}

/** Work stealing: the deepest other deque that holds a task the thief can run; returns it with that task's index (the last such). */
export function victimFor(slots: Iterable<Slot>, thief: Slot): { victim: Slot; index: number } | undefined {
  let index = -1;
  const victim = bestOf(
    slots,
    (s, toBeat) => {
      if (s === thief || s.deque.length <= toBeat) return undefined;
      const i = lastRunnable(s.deque, thief.agent);
      if (i < 0) return undefined;
      index = i;
      return s.deque.length;
    },
    false,
  );
  return victim === undefined ? undefined : { victim, index };
}

function lastRunnable(deque: readonly Task[], agent: Agent): number {
  for (let i = deque.length - 1; i >= 0; i--)
    if (missingCapability(agent, deque[i]?.required_capabilities ?? []) === undefined) return i;
  return -1;
}

/** Promises an idle capable agent's slot to a task being submitted (direct hand-off); its id, or undefined when none is idle. */
export function reserveSlot(slots: Iterable<Slot>, required: Task['required_capabilities']): string | undefined {
  const best = idleSlotFor(slots, required);
  if (best === undefined) return undefined;
  best.reserved++;
  return best.agent.id;
}

/** Gives a promised slot back (or takes it up: the hand-off happened). */
export function unreserveSlot(slot: Slot | undefined): void {
  if (slot !== undefined) slot.reserved = Math.max(0, slot.reserved - 1);
}
