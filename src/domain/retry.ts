/** What happens after a failed attempt: retry later, or end failed (permanent) or dead (attempts used up). */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  /** Fraction of the delay added or removed at random (0..1). */
  jitter: number;
}

export type AfterFailure = { action: 'retry'; delayMs: number } | { action: 'failed' } | { action: 'dead' };

/** Delay before attempt n+1 after attempt n failed: initial × multiplier^(n-1), capped, ± jitter. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.multiplier ** Math.max(0, attempt - 1));
  const spread = base * policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(base + spread));
}

/** A permanent failure ends the task failed; a retryable one retries until max_attempts, then the task is dead. */
export function afterFailure(
  policy: BackoffPolicy,
  retryable: boolean,
  attempt: number,
  maxAttempts: number,
  random?: () => number,
): AfterFailure {
  if (!retryable) return { action: 'failed' };
  if (attempt >= maxAttempts) return { action: 'dead' };
  return { action: 'retry', delayMs: backoffDelay(policy, attempt, random) };
}
