/**
 * Flow control in /metrics: per key, cluster-wide gauges read from storage at
 * each scrape (holders, waiting tasks, reservations, bucket levels), and this
 * node's counters (usage reported, time throttled). At most MAX_KEYS keys, those
 * with most waiting tasks, so that many keys cannot flood the scrape.
 */
import type { HubMetrics } from '../metrics/registry.js';
import type { FlowFigures } from '../engine/flow-stats.js';
import type { FlowKeyState } from '../storage/index.js';

const MAX_KEYS = 100;

/** The keys /metrics shows: most waiting first. */
export function topKeys(keys: readonly FlowKeyState[]): FlowKeyState[] {
  return [...keys].sort((a, b) => b.waiting - a.waiting || b.running - a.running).slice(0, MAX_KEYS);
}

export class FlowMetrics {
  /** What the counters were last given (prom-client counters only grow: each scrape adds the difference). */
  private readonly published = new Map<string, number>();

  publish(m: HubMetrics, keys: readonly FlowKeyState[], figures: FlowFigures | undefined): void {
    for (const g of [m.flowRunning, m.flowWaiting, m.flowReserved, m.flowBucketLevel]) g.reset();
    for (const k of topKeys(keys)) {
      m.flowRunning.set({ key: k.key }, k.running);
      m.flowWaiting.set({ key: k.key }, k.waiting);
      for (const [unit, n] of Object.entries(k.reserved)) m.flowReserved.set({ key: k.key, unit }, n);
      for (const b of k.buckets) m.flowBucketLevel.set({ key: k.key, bucket: b.name }, b.level);
    }
    if (figures === undefined) return;
    for (const [key, s] of Object.entries(figures.throttled_seconds))
      this.grow(`t ${key}`, s, (d) => m.flowThrottled.inc({ key }, d));
    for (const [key, used] of Object.entries(figures.used))
      for (const [unit, n] of Object.entries(used))
        this.grow(`u ${key} ${unit}`, n, (d) => m.flowUsed.inc({ key, unit }, d));
  }

  private grow(id: string, value: number, inc: (delta: number) => void): void {
    const delta = value - (this.published.get(id) ?? 0);
    if (delta > 0) inc(delta);
    this.published.set(id, value);
  }
}
