/**
 * This node's flow figures for /metrics: per key, the time its claims found the
 * key taking nothing (throttled), and the usage its agents reported. Counters
 * only grow; at most MAX_KEYS keys are tracked (the first seen), so a flood of
 * distinct keys cannot grow the metrics without bound.
 */
import type { Amounts } from '../domain/index.js';

const MAX_KEYS = 200;
/** A gap between two claims longer than this counts as this long (the node was idle or away). */
const MAX_GAP_MS = 5000;

export interface FlowFigures {
  throttled_seconds: Record<string, number>;
  used: Record<string, Amounts>;
}

export class FlowStats {
  private readonly throttledMs = new Map<string, number>();
  private readonly used = new Map<string, Amounts>();
  private blockedBefore = new Set<string>();
  private lastClaim = 0;

  /** After a fair claim: the keys that took nothing (or filled up) in it. */
  claimed(blocked: Iterable<string>, now = Date.now()): void {
    const gap = Math.min(MAX_GAP_MS, Math.max(0, now - this.lastClaim));
    const current = new Set(blocked);
    for (const key of current)
      if (this.blockedBefore.has(key) && this.track(this.throttledMs, key))
        this.throttledMs.set(key, (this.throttledMs.get(key) ?? 0) + gap);
    this.blockedBefore = current;
    this.lastClaim = now;
  }

  /** An attempt ended with this usage reported (its keys' counters grow). */
  finished(keys: readonly string[], usage: Amounts | null): void {
    if (usage === null) return;
    for (const key of keys) {
      if (!this.track(this.used, key)) continue;
      const sum = this.used.get(key) ?? {};
      for (const [unit, n] of Object.entries(usage)) sum[unit] = (sum[unit] ?? 0) + n;
      this.used.set(key, sum);
    }
  }

  figures(): FlowFigures {
    return {
      throttled_seconds: Object.fromEntries([...this.throttledMs].map(([k, ms]) => [k, ms / 1000])),
      used: Object.fromEntries(this.used),
    };
  }

  private track(map: Map<string, unknown>, key: string): boolean {
    return map.has(key) || map.size < MAX_KEYS;
  }
}
