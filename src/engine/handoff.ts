/**
 * Direct hand-off: tasks being submitted are stored already claimed by this node
 * when it has room for them, and start without a claim (one write fewer per
 * task: no claim UPDATE, no claim round trip). A single submission takes an
 * idle capable agent's slot; a bulk submission takes room in the deques (the
 * node's capacity times the prefetch, less what it holds), but only while the
 * last claim found the queue drained, so that nothing older or more urgent is
 * overtaken.
 */
import { PRIORITY_RANK, isFlowed, type NewTask, type Task } from '../domain/index.js';
import type { Logger } from '../log/logger.js';
import type { EventBus } from '../runtime/index.js';
import type { Claimer } from './claimer.js';
import { reserveSlot, unreserveSlot, type Slot } from './placement.js';
import type { EngineCounters } from './types.js';

export interface HandOffHost {
  readonly slots: ReadonlyMap<string, Slot>;
  readonly claimer: Claimer;
  readonly counters: EngineCounters;
  readonly events: EventBus;
  readonly log: Logger;
  accepting(): boolean;
  pump(slot: Slot): void;
}

/** Whether a task can be stored already claimed: no open dependency or wait, no flow limit to check, due now. */
export function handOffable(t: NewTask, now: number): boolean {
  return (
    t.depends_on.length === 0 &&
    (t.wait ?? null) === null &&
    !isFlowed(t) &&
    (t.run_at === null || Date.parse(t.run_at) <= now)
  );
}

export class HandOff {
  constructor(private readonly h: HandOffHost) {}

  /** Promises an idle capable agent to a task being submitted; its id, or undefined (stored pending, claimed as usual). */
  reserve(required: Task['required_capabilities']): string | undefined {
    return this.h.accepting() ? reserveSlot(this.h.slots.values(), required) : undefined;
  }

  /** Gives a reserved slot back (the submission was a duplicate, or storing it failed). */
  unreserve(agentId: string): void {
    unreserveSlot(this.h.slots.get(agentId));
  }

  /** Starts a task stored already claimed for a reserved agent. */
  handOff(agentId: string, task: Task): void {
    const slot = this.h.slots.get(agentId);
    if (slot === undefined) {
      void this.h.claimer
        .release([task], 'its agent left before the hand-off')
        .catch((err: unknown) => this.h.log.warn({ err }, 'releasing a task failed'));
      return;
    }
    unreserveSlot(slot);
    this.h.counters.handoffs++;
    const placed = { ...task, assigned_agent: agentId };
    this.h.events.publish('tasks', 'task.assigned', placed);
    slot.deque.unshift(placed);
    this.h.pump(slot);
  }

  /**
   * Which tasks of a bulk submission this node takes at once (true: store it
   * claimed), the most urgent first, as many as its deques have room for and its
   * agents' capabilities allow. The room is held until adoptBulk() or
   * unreserveBulk() gives it back.
   */
  reserveBulk(tasks: readonly NewTask[]): boolean[] {
    const take = tasks.map(() => false);
    if (!this.h.accepting() || !this.h.claimer.queueDrained) return take;
    const { buffered, target, offer } = this.h.claimer.capacityTarget();
    let room = target - buffered;
    if (room <= 0) return take;
    const now = Date.now();
    const order = tasks
      .map((_, i) => i)
      .sort((a, b) => PRIORITY_RANK[tasks[b]!.priority] - PRIORITY_RANK[tasks[a]!.priority]);
    for (const i of order) {
      const t = tasks[i]!;
      if (room === 0) break;
      if (!handOffable(t, now) || !t.required_capabilities.every((c) => (offer[c.name] ?? -1) >= c.min_proficiency))
        continue;
      take[i] = true;
      room--;
    }
    this.h.claimer.reserved += take.filter(Boolean).length;
    return take;
  }

  /** Gives back room reserved by reserveBulk (storing the batch failed). */
  unreserveBulk(n: number): void {
    this.h.claimer.reserved = Math.max(0, this.h.claimer.reserved - n);
  }

  /** Places the tasks of a bulk submission stored claimed here, as a claim's are, and gives back the room reserved. */
  async adoptBulk(tasks: Task[], reserved: number): Promise<void> {
    this.unreserveBulk(reserved);
    if (tasks.length === 0) return;
    this.h.counters.handoffs += tasks.length;
    await this.h.claimer.adopt(tasks);
  }
}
