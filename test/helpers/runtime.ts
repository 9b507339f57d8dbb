import { ActorSystem, systemClock, type Clock, type SupervisionPolicy } from '../../src/runtime/index.js';
import { HubMetrics } from '../../src/metrics/registry.js';
import { memoryLogger } from './logs.js';

/** A clock whose sleeps return at once but are recorded, so backoff can be asserted without waiting. */
export function recordingClock(): Clock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => Date.now(),
    sleep: (ms) => {
      sleeps.push(ms);
      return new Promise((r) => setImmediate(r));
    },
    every: (ms, fn) => systemClock.every(ms, fn),
  };
}

/** A clock whose periodic ticks run only when the test says (`tick(ms)` fires what is due); sleeps are real. */
export function manualClock(): Clock & { tick(ms: number): number; periods(): number[] } {
  let now = 0;
  const timers = new Set<{ ms: number; next: number; fn: () => void }>();
  return {
    now: () => Date.now(),
    sleep: (ms) => systemClock.sleep(ms),
    every: (ms, fn) => {
      const t = { ms, next: now + ms, fn };
      timers.add(t);
      return () => timers.delete(t);
    },
    tick: (ms) => {
      now += ms;
      let fired = 0;
      for (const t of timers)
        while (t.next <= now) {
          t.next += t.ms;
          t.fn();
          fired++;
        }
      return fired;
    },
    periods: () => [...timers].map((t) => t.ms),
  };
}

export function testSystem(options: { policy?: SupervisionPolicy; mailboxBound?: number; clock?: Clock } = {}) {
  const { log, records } = memoryLogger();
  const metrics = new HubMetrics({ defaultMetrics: false });
  const system = new ActorSystem({
    name: 'test',
    log,
    metrics,
    defaultPolicy: options.policy ?? {
      kind: 'restart',
      maxRestarts: 3,
      withinMs: 60_000,
      backoffInitialMs: 10,
      backoffMaxMs: 80,
    },
    mailboxBound: options.mailboxBound ?? 1000,
    askTimeoutMs: 2000,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return { system, metrics, records };
}

/** The current value of a counter with the given labels. */
export async function counterValue(metrics: HubMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const entry = metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return entry?.value ?? 0;
}
