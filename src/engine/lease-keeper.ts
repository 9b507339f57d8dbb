/**
 * The lease keeper: this node's leases are extended while it lives, expired
 * ones (of any node) are requeued, and at process start the leases of this
 * node's previous process are taken back.
 */
import { REQUEUE_PATCH } from '../domain/index.js';
import type { Logger } from '../log/logger.js';
import type { EventBus } from '../runtime/index.js';
import type { FlowStore, OutageTracker, TaskStore } from '../storage/index.js';
import type { EngineCounters } from './types.js';

export interface LeaseKeeperOptions {
  store: TaskStore & Pick<FlowStore, 'ageTasks'>;
  /** [flow] aging_ms (0: no aging). */
  agingMs: number;
  events: EventBus;
  log: Logger;
  nodeId: string;
  leaseMs: number;
  counters: EngineCounters;
  outage: OutageTracker;
}

export class LeaseKeeper {
  private agedAt = 0;

  constructor(private readonly o: LeaseKeeperOptions) {}

  /**
   * At process start nothing runs here yet: tasks still leased to this node by the
   * process before (killed) go back to pending at once instead of waiting for their
   * leases to expire. Only leases taken before `startedAt`: a task handed off by
   * this process meanwhile is its own. Called once the node lock is held.
   */
  async recover(startedAt: Date): Promise<number> {
    let n = 0;
    const before = startedAt.toISOString();
    for (const task of await this.o.store.listLeasedTasks(this.o.nodeId)) {
      if (task.claimed_at !== null && task.claimed_at >= before) continue;
      const after = await this.o.store.transitionTask(task.id, {
        op: 'requeue',
        attempt: task.attempts,
        patch: REQUEUE_PATCH,
        nodeId: this.o.nodeId,
        detail: { reason: 'recovered at start: the previous process of this node held it' },
      });
      if (after !== undefined) n++;
    }
    if (n > 0)
      this.o.log.warn(
        { event: 'task.recovered', count: n },
        `${n} tasks leased to this node by its previous process were requeued`,
      );
    return n;
  }

  /** Extends this node's leases; skipped quietly during an outage. */
  async heartbeat(): Promise<void> {
    this.o.counters.lease_extensions += await this.whileUp(
      () => this.o.store.extendLeases(this.o.nodeId, this.o.leaseMs),
      0,
    );
  }

  /** Requeues tasks whose lease expired; returns how many (the engine claims again when some were). */
  async sweep(): Promise<number> {
    await this.age();
    const requeued = await this.whileUp(() => this.o.store.requeueExpired(this.o.nodeId, 1000), []);
    if (requeued.length === 0) return 0;
    this.o.counters.expired_requeued += requeued.length;
    this.o.log.warn(
      { event: 'task.lease_expired', count: requeued.length },
      `${requeued.length} tasks whose lease expired were requeued`,
    );
    for (const t of requeued) this.o.events.publish('tasks', 'task.requeued', t);
    return requeued.length;
  }

  /** Aging, a tenth of aging_ms apart (every node may run it: a raise happens once, its condition is in the statement). */
  private async age(): Promise<void> {
    const now = Date.now();
    if (this.o.agingMs <= 0 || now - this.agedAt < this.o.agingMs / 10) return;
    this.agedAt = now;
    const raised = await this.whileUp(() => this.o.store.ageTasks(this.o.agingMs, new Date(now)), 0);
    this.o.counters.aged += raised;
  }

  /** Runs a periodic store call; during an outage it is skipped quietly (the tracker logged it once) and gives `fallback`. */
  private async whileUp<T>(call: () => Promise<T>, fallback: T): Promise<T> {
    try {
      const v = await call();
      this.o.outage.ok();
      return v;
    } catch (err) {
      if (this.o.outage.failed(err)) return fallback;
      throw err;
    }
  }
}
