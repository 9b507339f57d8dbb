/**
 * The claim loop: how many tasks this node wants (its agents' capacity times
 * the prefetch, less what it holds), one claim at a time (coalesced wakes),
 * placement of the claimed batch in the agents' deques (placement.ts), and
 * the release of what no agent here can take.
 */
import type { KeyBlock, Task } from '../domain/index.js';
import { errorMessage } from '../errors/index.js';
import type { ClaimRequest, OutageTracker } from '../storage/index.js';
import { scoreFit, type FitScores } from './fit.js';
import type { FlowStats } from './flow-stats.js';
import { slotFor, takesWork, type Slot } from './placement.js';
import type { EngineCounters, EngineOptions, EnginePart, FitModel } from './types.js';

/** A claimed task no single agent here can take is claimable again after this long. */
const UNPLACEABLE_DELAY_MS = 5000;

/** How many held-back tasks' last wait reasons the claimer remembers (so each change is told once). */
const WAITS_REMEMBERED = 10_000;

/** What the claim loop needs of the engine. */
export interface ClaimHost {
  readonly slots: ReadonlyMap<string, Slot>;
  /** Whether the engine takes new work now (not stopping, not evicted, no part halted). */
  accepting(): boolean;
  /** After a claim was placed: the agents start what they can. */
  pumpAll(): void;
  fault(part: EnginePart, err: unknown): void;
  fitModel(): FitModel | undefined;
  /** Tasks flow rules now hold back for another reason than last told (history, /ws). */
  waiting(changed: ReadonlyArray<{ id: string; block: KeyBlock }>): void;
  readonly flowStats: FlowStats;
}

export class Claimer {
  private claiming = false;
  /** The last claim got fewer tasks than it asked for: nothing more is ready now. */
  queueDrained = false;
  private claimAgain = false;
  private wakeQueued = false;
  /** No claim before this time (an outage's backoff). */
  private notBefore = 0;
  /** A wake when a rate or budget bucket holds enough again. */
  private refill: { at: number; timer: NodeJS.Timeout } | undefined;
  private readonly waits = new Map<string, string>();
  /** Room promised to bulk submissions being stored claimed here (handoff.ts): counted as held. */
  reserved = 0;

  constructor(
    private readonly o: EngineOptions,
    private readonly counters: EngineCounters,
    private readonly outage: OutageTracker,
    private readonly host: ClaimHost,
  ) {}

  /** Claims soon (coalesced): after submissions, NOTIFY, when deques run low, and every second. */
  wake(): void {
    this.queueDrained = false;
    if (this.wakeQueued || !this.host.accepting()) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      void this.claim();
    });
  }

  /** How many tasks are here and wanted, and the best proficiency on offer per capability (the claim's filter). */
  capacityTarget(): { buffered: number; target: number; offer: Record<string, number> } {
    let buffered = this.reserved;
    let target = 0;
    const offer: Record<string, number> = {};
    for (const s of this.host.slots.values()) {
      buffered += s.deque.length + s.running.size;
      if (!takesWork(s)) continue;
      target += s.agent.max_concurrency * this.o.prefetch;
      for (const c of s.agent.capabilities) offer[c.name] = Math.max(offer[c.name] ?? 0, c.proficiency);
    }
    return { buffered, target, offer };
  }

  private async claim(): Promise<void> {
    if (!this.host.accepting() || Date.now() < this.notBefore) return;
    if (this.claiming) {
      this.claimAgain = true; // asked while a claim was in flight: claim again once it is done
      return;
    }
    const { buffered, target, offer } = this.capacityTarget();
    const want = Math.min(this.o.claimBatch, target - buffered);
    if (want <= 0) return;
    this.claiming = true;
    let got = 0;
    let held: Parameters<NonNullable<ClaimRequest['onRefused']>> | undefined;
    try {
      const tasks = await this.o.store.claimTasks({
        nodeId: this.o.nodeId,
        limit: want,
        leaseMs: this.o.leaseMs,
        offer,
        onRefused: (...args) => (held = args),
        onMore: () => (this.claimAgain = true),
      });
      this.outage.ok();
      if (held !== undefined) this.heldBack(...held);
      got = tasks.length;
      this.counters.claims++;
      this.counters.claimed += got;
      await this.adopt(tasks);
    } catch (err) {
      if (this.outage.failed(err)) this.notBefore = Date.now() + this.outage.delayMs();
      else this.host.fault('claim', err);
    } finally {
      this.claiming = false;
    }
    const again = this.claimAgain;
    this.claimAgain = false;
    if (got === want || again)
      this.wake(); // there may be more
    else this.queueDrained = true;
  }

  /** Places tasks claimed by this node (by a claim or a bulk hand-off) and starts what the agents can take. */
  async adopt(tasks: Task[]): Promise<void> {
    const homeless = this.place(tasks, await this.fitScores(tasks));
    // Each requirement is on offer, but not all of them from one agent: try again later, not at once.
    if (homeless.length > 0)
      await this.release(homeless, 'no single local agent meets every requirement', UNPLACEABLE_DELAY_MS);
    this.host.pumpAll();
  }

  /** Flow rules held work back: wake when the first bucket refills, and tell each task's new reason once. */
  private heldBack(refused: ReadonlyMap<string, KeyBlock>, blocked: ReadonlyMap<string, KeyBlock>): void {
    let at = Number.POSITIVE_INFINITY;
    for (const b of [...refused.values(), ...blocked.values()]) if (b.until !== undefined) at = Math.min(at, b.until);
    if (at < Number.POSITIVE_INFINITY) this.wakeAt(at);
    this.host.flowStats.claimed(new Set([...blocked.keys(), ...[...refused.values()].map((b) => b.key)]));
    const changed: Array<{ id: string; block: KeyBlock }> = [];
    for (const [id, block] of refused) {
      const reason = `${block.code} ${block.key}`;
      if (this.waits.get(id) === reason) continue;
      this.waits.delete(id);
      this.waits.set(id, reason);
      changed.push({ id, block });
    }
    for (const id of this.waits.keys()) {
      if (this.waits.size <= WAITS_REMEMBERED) break;
      this.waits.delete(id);
    }
    if (changed.length > 0) this.host.waiting(changed);
  }

  private wakeAt(at: number): void {
    if (this.refill !== undefined && this.refill.at <= at) return;
    if (this.refill !== undefined) clearTimeout(this.refill.timer);
    const timer = setTimeout(
      () => {
        this.refill = undefined;
        this.wake();
      },
      Math.max(1, at - Date.now()),
    );
    timer.unref();
    this.refill = { at, timer };
  }

  /** The fit model's scores for a claimed batch; undefined without a model or when it fails (declared scores then). */
  private async fitScores(tasks: readonly Task[]): Promise<FitScores | undefined> {
    const model = this.host.fitModel();
    if (model === undefined) return undefined;
    try {
      const scored = await scoreFit(model, this.host.slots.values(), tasks, this.o.prefetch);
      if (scored === undefined) return undefined;
      this.counters.fit_scored += scored.pairs;
      return scored.scores;
    } catch (err) {
      this.counters.fit_failures++;
      this.o.log.warn({ err }, `fit scoring failed; placing by declared capabilities: ${errorMessage(err)}`);
      return undefined;
    }
  }

  /** Puts each task in the deque of the agent that fits best (load counted); returns those no agent can take. */
  place(tasks: readonly Task[], fit?: FitScores): Task[] {
    const homeless: Task[] = [];
    for (const task of tasks) {
      const best = slotFor(this.host.slots.values(), task, this.o.prefetch, fit?.get(task));
      if (best === undefined) {
        homeless.push(task);
        continue;
      }
      // Claimed tasks are this engine's own copies: updated in place rather than copied (fewer allocations per task).
      const placed = task;
      placed.assigned_agent = best.agent.id;
      best.deque.push(placed);
      this.o.events.publish('tasks', 'task.assigned', () => placed);
    }
    return homeless;
  }

  /** Gives claimed tasks back (pending again, after `delayMs`). */
  async release(tasks: readonly Task[], reason: string, delayMs = 0): Promise<void> {
    if (tasks.length === 0) return;
    this.counters.released += await this.o.store.releaseTasks(
      tasks.map((t) => ({ id: t.id, epoch: t.lease_epoch })),
      this.o.nodeId,
      reason,
      delayMs,
    );
    for (const t of tasks)
      this.o.events.publish('tasks', 'task.requeued', { ...t, status: 'pending', assigned_agent: null });
  }
}
