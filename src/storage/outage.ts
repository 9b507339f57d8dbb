import { errorMessage, isOutage } from '../errors/index.js';
import type { Logger } from '../log/logger.js';

/**
 * Tracks one component's view of a database outage: the first failure of an outage
 * is logged once (a warning, not a stack trace per call), the return once with how
 * long it lasted, and callers wait a growing delay between tries instead of
 * retrying in a tight loop.
 */
export class OutageTracker {
  private downSince: number | undefined;
  private failures = 0;

  constructor(
    private readonly log: Logger,
    private readonly what: string,
  ) {}

  get down(): boolean {
    return this.downSince !== undefined;
  }

  /** Records a failed store call. True when it was an outage (the caller keeps its work and tries again after delayMs()). */
  failed(err: unknown): boolean {
    if (!isOutage(err)) return false;
    this.failures++;
    if (this.downSince === undefined) {
      this.downSince = Date.now();
      this.log.warn(
        { event: 'storage.unavailable', component: this.what },
        `${this.what}: database unavailable, pausing and retrying until it is back: ${errorMessage(err)}`,
      );
    }
    return true;
  }

  /** Records a successful store call; logs the end of an outage. */
  ok(): void {
    if (this.downSince === undefined) return;
    const ms = Date.now() - this.downSince;
    this.downSince = undefined;
    this.failures = 0;
    this.log.info(
      { event: 'storage.recovered', component: this.what, outage_ms: ms },
      `${this.what}: database back after ${ms} ms; resuming`,
    );
  }

  /** The wait before the next try: 100 ms doubling to 1 s (so work resumes within about a second of the database's return). */
  delayMs(): number {
    return Math.min(1000, 100 * 2 ** Math.min(this.failures, 4));
  }
}
