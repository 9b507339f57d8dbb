/** Sliding windows over measured samples: rates and latency percentiles. */

/** Counts events in one-second buckets over the last `seconds`; rate() is events per second. */
export class RateWindow {
  private readonly buckets: number[];
  private readonly stamps: number[];

  constructor(
    private readonly seconds = 60,
    private readonly now: () => number = Date.now,
  ) {
    this.buckets = new Array<number>(seconds).fill(0);
    this.stamps = new Array<number>(seconds).fill(-1);
  }

  record(count = 1): void {
    const sec = Math.floor(this.now() / 1000);
    const i = sec % this.seconds;
    if (this.stamps[i] !== sec) {
      this.stamps[i] = sec;
      this.buckets[i] = 0;
    }
    this.buckets[i] = (this.buckets[i] ?? 0) + count;
  }

  /** Events per second over the window (the current partial second included). */
  rate(): number {
    const sec = Math.floor(this.now() / 1000);
    let total = 0;
    for (let i = 0; i < this.seconds; i++) {
      const stamp = this.stamps[i] ?? -1;
      if (stamp > sec - this.seconds) total += this.buckets[i] ?? 0;
    }
    return total / this.seconds;
  }
}

/** The last `size` samples (e.g. durations in ms): mean and percentiles. */
export class SampleWindow {
  private readonly samples: number[] = [];
  private next = 0;

  constructor(private readonly size = 1024) {}

  record(value: number): void {
    if (this.samples.length < this.size) this.samples.push(value);
    else this.samples[this.next] = value;
    this.next = (this.next + 1) % this.size;
  }

  get count(): number {
    return this.samples.length;
  }

  mean(): number {
    return this.samples.length === 0 ? 0 : this.samples.reduce((a, b) => a + b, 0) / this.samples.length;
  }

  /** The p-th percentile (0..100) by nearest rank; 0 with no samples. */
  percentile(p: number): number {
    if (this.samples.length === 0) return 0;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank] ?? 0;
  }
}

export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
