/**
 * Supervision policies and the pure decision of what to do after a crash.
 * restart: restart with exponential backoff; more than maxRestarts crashes within
 * withinMs escalate to the parent. resume: keep state, drop the message.
 * stop: stop the actor (its mailbox becomes dead letters).
 */
import type { HubConfig } from '../config/index.js';
export type SupervisionPolicy =
  | { kind: 'restart'; maxRestarts: number; withinMs: number; backoffInitialMs: number; backoffMaxMs: number }
  | { kind: 'resume' }
  | { kind: 'stop' };

export type SupervisionDecision =
  | { action: 'restart'; delayMs: number; recent: number[] }
  | { action: 'escalate'; recent: number[] }
  | { action: 'resume' }
  | { action: 'stop' };

/** The [supervision] settings as an actor system's options: the default policy, mailbox bound and ask deadline. */
export function supervisionOptions(s: HubConfig['supervision']): {
  defaultPolicy: SupervisionPolicy;
  mailboxBound: number;
  askTimeoutMs: number;
} {
  return {
    defaultPolicy: {
      kind: 'restart',
      maxRestarts: s.max_restarts,
      withinMs: s.within_seconds * 1000,
      backoffInitialMs: s.backoff_initial_ms,
      backoffMaxMs: s.backoff_max_ms,
    },
    mailboxBound: s.mailbox_bound,
    askTimeoutMs: s.ask_timeout_ms,
  };
}

/** The longest wait between restarts while a dependency (the database) is away. */
export const OUTAGE_BACKOFF_MAX_MS = 5000;

/**
 * Decides the response to a crash at `now`, given the times of earlier restarts.
 * A crash caused by an outage (the database away: an expected condition, not a
 * fault of the module) restarts with backoff over `outageStreak` consecutive outage
 * crashes and is not counted toward the restart intensity, so an outage of any
 * length never escalates; the module is running again soon after the database is.
 */
export function decide(
  policy: SupervisionPolicy,
  restartTimes: readonly number[],
  now: number,
  outageStreak?: number,
): SupervisionDecision {
  switch (policy.kind) {
    case 'resume':
      return { action: 'resume' };
    case 'stop':
      return { action: 'stop' };
    case 'restart': {
      if (outageStreak !== undefined) {
        const delayMs = Math.min(OUTAGE_BACKOFF_MAX_MS, policy.backoffInitialMs * 2 ** Math.min(outageStreak, 20));
        return { action: 'restart', delayMs, recent: [...restartTimes] };
      }
      const recent = restartTimes.filter((t) => now - t < policy.withinMs);
      if (recent.length >= policy.maxRestarts) return { action: 'escalate', recent };
      const delayMs = Math.min(policy.backoffMaxMs, policy.backoffInitialMs * 2 ** recent.length);
      return { action: 'restart', delayMs, recent: [...recent, now] };
    }
  }
}
