/**
 * The admission plan of one claim (pure). Candidates come per tenant, each
 * tenant's in its claim order (priority, then submission). The plan serves
 * tenants by start-time fair queueing: each tenant has a virtual time that
 * grows by 1/weight per dispatch, the tenant with the smallest start
 * (max(its time, the clock)) goes next, and a tenant that was idle starts at
 * the clock, so it neither banks credit nor waits behind the others' past.
 * A task is admitted only when every one of its keys allows it (concurrency,
 * rate, budgets); a refused task blocks its key for the rest of the claim, so
 * a key's later tasks never overtake its head, and other keys go on.
 */
import {
  bucketsOf,
  chargeOf,
  levelNow,
  msUntil,
  needOf,
  rulesFor,
  weightOf,
  type Amounts,
  type BucketState,
  type FlowOverrides,
  type FlowPolicy,
  type KeyRules,
} from './flow.js';

export interface FlowCandidate {
  id: string;
  keys: readonly string[];
  tenant: string;
  cost: Amounts | null;
}

export type FlowWaitCode = 'CONCURRENCY_LIMIT' | 'RATE_LIMITED' | 'BUDGET_EXHAUSTED';

/** Why a key takes no task now. */
export interface KeyBlock {
  code: FlowWaitCode;
  key: string;
  /** CONCURRENCY_LIMIT: tasks holding the key and its limit. */
  running?: number;
  limit?: number;
  /** RATE_LIMITED, BUDGET_EXHAUSTED: the bucket, what it holds and what the task needs, and when it holds enough (epoch ms). */
  bucket?: string;
  level?: number;
  need?: number;
  until?: number;
}

export interface FlowFacts {
  policy: FlowPolicy;
  overrides: FlowOverrides;
  /** Tasks holding each key now (assigned or running), cluster-wide. */
  running: ReadonlyMap<string, number>;
  /** Stored buckets by bucketId(key, name). */
  buckets: ReadonlyMap<string, BucketState>;
  /** Tenants' virtual times (absent: never served). */
  tenants: ReadonlyMap<string, number>;
  /** The fair-share clock: the start of the last dispatch. */
  clock: number;
  now: number;
}

/** A bucket's change: its level as stored plus `delta` (relative, so concurrent refunds are kept). */
export interface BucketWrite {
  key: string;
  bucket: string;
  /** The level to store when no row exists yet. */
  level: number;
  delta: number;
}

export interface FlowPlan {
  admitted: FlowCandidate[];
  /** Candidates looked at and refused, with the key that stopped them. */
  refused: Map<string, KeyBlock>;
  buckets: BucketWrite[];
  /** New virtual times of the tenants served. */
  tenants: Map<string, number>;
  clock: number;
  /** How many of each tenant's candidates the plan looked at (admitted or refused). */
  consumed: Map<string, number>;
}

export function bucketId(key: string, bucket: string): string {
  return `${key} ${bucket}`; // keys have no spaces
}

/** Levels and holders as the plan goes, so each admission sees the ones before it. */
class Ledger {
  private readonly running = new Map<string, number>();
  private readonly levels = new Map<
    string,
    { level: number; stored: number | undefined; capacity: number; taken: boolean }
  >();

  /** Each key's rules and buckets, resolved once per plan (patterns are matched once per key, not per task). */
  private readonly resolved = new Map<string, { rules: KeyRules; buckets: ReturnType<typeof bucketsOf> }>();

  constructor(private readonly f: FlowFacts) {}

  private rulesOf(key: string): { rules: KeyRules; buckets: ReturnType<typeof bucketsOf> } {
    let r = this.resolved.get(key);
    if (r === undefined) {
      const rules = rulesFor(this.f.policy, this.f.overrides, key);
      r = { rules, buckets: bucketsOf(rules) };
      this.resolved.set(key, r);
    }
    return r;
  }

  holders(key: string): number {
    return this.running.get(key) ?? this.f.running.get(key) ?? 0;
  }

  level(key: string, bucket: string, capacity: number, perMs: number): number {
    const id = bucketId(key, bucket);
    let l = this.levels.get(id);
    if (l === undefined) {
      const state = this.f.buckets.get(id);
      l = { level: levelNow(state, { capacity, perMs }, this.f.now), stored: state?.level, capacity, taken: false };
      this.levels.set(id, l);
    }
    return l.level;
  }

  /** Why `task` cannot run now (the first key that stops it), or undefined. */
  check(task: FlowCandidate): KeyBlock | undefined {
    for (const key of task.keys) {
      const { rules, buckets } = this.rulesOf(key);
      const limit = rules.concurrency?.limit;
      const running = this.holders(key);
      if (limit !== undefined && running >= limit) return { code: 'CONCURRENCY_LIMIT', key, running, limit };
      for (const b of buckets) {
        const need = needOf(chargeOf(b.unit, task.cost), b.spec);
        const level = this.level(key, b.name, b.spec.capacity, b.spec.perMs);
        if (need > 0 && level < need)
          return {
            code: b.unit === null ? 'RATE_LIMITED' : 'BUDGET_EXHAUSTED',
            key,
            bucket: b.name,
            level: Math.floor(level * 1000) / 1000,
            need,
            until: this.f.now + msUntil(level, need, b.spec),
          };
      }
    }
    return undefined;
  }

  take(task: FlowCandidate): void {
    for (const key of task.keys) {
      this.running.set(key, this.holders(key) + 1);
      for (const b of this.rulesOf(key).buckets) {
        const charge = chargeOf(b.unit, task.cost);
        if (charge === 0) continue;
        this.level(key, b.name, b.spec.capacity, b.spec.perMs);
        const l = this.levels.get(bucketId(key, b.name));
        if (l === undefined) continue;
        l.level -= charge;
        l.taken = true;
      }
    }
  }

  writes(): BucketWrite[] {
    const out: BucketWrite[] = [];
    for (const [id, l] of this.levels) {
      if (!l.taken) continue;
      const [key = '', bucket = ''] = id.split(' ');
      // Relative to the stored level (it includes the refill), or to a full bucket when none is stored yet.
      out.push({ key, bucket, level: l.level, delta: l.level - (l.stored ?? l.capacity) });
    }
    return out;
  }
}

/** Why flow rules hold this task back now (the first key that stops it), or undefined. */
export function blockOf(f: FlowFacts, task: FlowCandidate): KeyBlock | undefined {
  return new Ledger(f).check(task);
}

/** Keys that take no task at all now (at their limit, or a bucket below one unit): claims skip their tasks in SQL. */
export function blockedKeys(f: FlowFacts): Map<string, KeyBlock> {
  const ledger = new Ledger(f);
  const keys = new Set<string>(f.running.keys());
  for (const id of f.buckets.keys()) keys.add(id.split(' ')[0] ?? '');
  for (const key of f.overrides.concurrency.keys()) keys.add(key);
  const out = new Map<string, KeyBlock>();
  for (const key of keys) {
    const block = ledger.check({ id: '', keys: [key], tenant: '', cost: minimalCost(f, key) });
    if (block !== undefined) out.set(key, block);
  }
  return out;
}

/** One unit of each budgeted unit: the least any task charging it could need. */
function minimalCost(f: FlowFacts, key: string): Amounts {
  const unit = rulesFor(f.policy, f.overrides, key).budget?.unit;
  return unit === undefined ? {} : { [unit]: 1 };
}

/** Admits up to `limit` of the candidates (by tenant, each in claim order); see the file's comment. */
export function planClaim(
  f: FlowFacts,
  byTenant: ReadonlyMap<string, readonly FlowCandidate[]>,
  limit: number,
  blocked: ReadonlyMap<string, KeyBlock> = new Map(),
): FlowPlan {
  const ledger = new Ledger(f);
  const stopped = new Map(blocked);
  const times = new Map<string, number>();
  const next = new Map<string, number>();
  const plan: FlowPlan = {
    admitted: [],
    refused: new Map(),
    buckets: [],
    tenants: times,
    clock: f.clock,
    consumed: next,
  };
  const startOf = (t: string): number => Math.max(times.get(t) ?? f.tenants.get(t) ?? plan.clock, plan.clock);
  while (plan.admitted.length < limit) {
    let tenant: string | undefined;
    for (const [t, list] of byTenant) {
      if ((next.get(t) ?? 0) >= list.length) continue;
      if (tenant === undefined || startOf(t) < startOf(tenant)) tenant = t;
    }
    if (tenant === undefined) break;
    const i = next.get(tenant) ?? 0;
    next.set(tenant, i + 1);
    const task = byTenant.get(tenant)?.[i];
    if (task === undefined) continue;
    const held = task.keys.map((k) => stopped.get(k)).find((b) => b !== undefined);
    const block = held ?? ledger.check(task);
    if (block !== undefined) {
      plan.refused.set(task.id, block);
      stopped.set(block.key, block);
      continue;
    }
    ledger.take(task);
    const start = startOf(tenant);
    times.set(tenant, start + 1 / weightOf(f.policy, tenant));
    plan.clock = start;
    plan.admitted.push(task);
  }
  plan.buckets = ledger.writes();
  return plan;
}

/** What a task's end gives back to its keys' buckets: `reserved` less what was used (negative: a debit). */
export function settlement(
  policy: FlowPolicy,
  overrides: FlowOverrides,
  task: { keys: readonly string[]; cost: Amounts | null },
  used: Amounts | null,
  released: boolean,
): BucketWrite[] {
  const out: BucketWrite[] = [];
  for (const key of task.keys) {
    for (const b of bucketsOf(rulesFor(policy, overrides, key))) {
      const charged = chargeOf(b.unit, task.cost);
      // Released before it started: everything back. Ended: budgets settle to the usage reported, if any.
      const back = released ? charged : b.unit === null || used === null ? 0 : charged - (used[b.unit] ?? charged);
      if (back !== 0) out.push({ key, bucket: b.name, level: b.spec.capacity, delta: back });
    }
  }
  return out;
}
