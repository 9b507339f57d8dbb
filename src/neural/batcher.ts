/**
 * Micro-batching: requests are gathered for at most `waitMs` (or until
 * `maxBatch` items wait) and run as one batch. A batch that is running does not
 * block the next one from gathering; the number of batches in flight is bounded
 * by `maxInFlight`, beyond which items wait for a free slot.
 */
export class MicroBatcher<I, O> {
  private queue: Array<{ item: I; resolve: (o: O) => void; reject: (e: unknown) => void }> = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate = false;
  private inFlight = 0;
  readonly counts = { items: 0, batches: 0 };

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly o: { maxBatch: number; waitMs: number; maxInFlight?: number },
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Items waiting or running. */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  private schedule(): void {
    if (this.inFlight >= (this.o.maxInFlight ?? 2)) return; // a finishing batch schedules the next
    if (this.queue.length >= this.o.maxBatch || this.o.waitMs === 0) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      if (!this.immediate) {
        this.immediate = true;
        setImmediate(() => {
          this.immediate = false;
          this.flush();
        });
      }
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.o.waitMs);
  }

  private flush(): void {
    if (this.queue.length === 0 || this.inFlight >= (this.o.maxInFlight ?? 2)) return;
    const batch = this.queue.splice(0, this.o.maxBatch);
    this.inFlight++;
    this.counts.batches++;
    this.counts.items += batch.length;
    this.run(batch.map((b) => b.item))
      .then(
        (out) => batch.forEach((b, i) => b.resolve(out[i] as O)),
        (err: unknown) => batch.forEach((b) => b.reject(err)),
      )
      .finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.schedule();
      });
  }
}

/** A least-recently-used map of bounded size (Map keeps insertion order: a hit moves the key to the end). */
export class LruCache<V> {
  private readonly map = new Map<string, V>();
  hits = 0;
  misses = 0;

  constructor(readonly capacity: number) {}

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  set(key: string, value: V): void {
    if (this.capacity === 0) return;
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
  }

  clear(): number {
    const n = this.map.size;
    this.map.clear();
    return n;
  }

  get size(): number {
    return this.map.size;
  }
}
