/** Token buckets by key (a principal, or an IP before authentication), bounded in number. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly maxKeys = 100_000,
  ) {}

  get enabled(): boolean {
    return this.perSecond > 0;
  }

  /** Takes one token; returns 0 when allowed, else the seconds until one is available (Retry-After). */
  take(key: string, now = Date.now()): number {
    if (!this.enabled) return 0;
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond));
  }
}

/** Failed logins per username and IP; after `max` failures within `windowMs`, locked for `lockMs`. */
export class LoginGuard {
  private readonly failures = new Map<string, { count: number; first: number; lockedUntil: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly lockMs: number,
  ) {}

  /** Seconds left of a lockout, or 0. */
  locked(key: string, now = Date.now()): number {
    const f = this.failures.get(key);
    return f === undefined || f.lockedUntil <= now ? 0 : Math.ceil((f.lockedUntil - now) / 1000);
  }

  /** Records a failure; returns true when it locks the key. */
  fail(key: string, now = Date.now()): boolean {
    let f = this.failures.get(key);
    if (f === undefined || now - f.first > this.windowMs) {
      f = { count: 0, first: now, lockedUntil: 0 };
      this.failures.set(key, f);
      if (this.failures.size > 100_000) this.failures.delete(this.failures.keys().next().value as string);
    }
    f.count++;
    if (f.count >= this.max) {
      f.lockedUntil = now + this.lockMs;
      f.count = 0;
      f.first = now;
      return true;
    }
    return false;
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }
}
