/**
 * Flow rules (pure): which limits apply to a key, token-bucket arithmetic for
 * rate limits and budgets, and the admission plan a claim follows (fair share
 * across tenants by start-time fair queueing, then every key's concurrency,
 * rate and budget). The stores gather the facts and write the plan's effects;
 * nothing here does I/O. docs/flow-control.md explains the model.
 */
import { invalid } from './validate.js';
import { checkNoNul } from './json-value.js';

/** Most concurrency keys one task may carry. */
export const MAX_FLOW_KEYS = 8;
/** A key or tenant: letters, digits and _ . : / @ + = -, 1 to 128 characters (`*` is for patterns). */
const KEY = /^[A-Za-z0-9_.:/@+=-]{1,128}$/;
/** The tenant of tasks submitted without a fairness_key. */
export const DEFAULT_TENANT = '';
/** Largest cost or usage amount in one unit. */
const MAX_AMOUNT = 1e12;

export type Amounts = Record<string, number>;

export interface ConcurrencyRule {
  limit: number;
}
export interface RateRule {
  /** Dispatches per window. */
  limit: number;
  window_ms: number;
  /** Most dispatches at once after an idle spell (the bucket's size); defaults to `limit`. */
  burst: number;
}
export interface BudgetRule {
  unit: string;
  /** 0: no per-minute budget. */
  per_minute: number;
  /** 0: no per-day budget. */
  per_day: number;
}
export interface FairnessRule {
  weight: number;
}
export type RuleKind = 'concurrency' | 'rate' | 'budget';
export const RULE_KINDS: readonly RuleKind[] = ['concurrency', 'rate', 'budget'];

/** Rules by key pattern (`*` matches any run of characters), from configuration. */
export interface FlowPolicy {
  units: readonly string[];
  concurrency: Readonly<Record<string, ConcurrencyRule>>;
  rate: Readonly<Record<string, RateRule>>;
  budget: Readonly<Record<string, BudgetRule>>;
  fairness: Readonly<Record<string, FairnessRule>>;
}

export const EMPTY_POLICY: FlowPolicy = { units: ['tokens'], concurrency: {}, rate: {}, budget: {}, fairness: {} };

/** Per-key rules set at run time (PUT /api/flow/:kind/:key); they win over every pattern. */
export interface FlowOverrides {
  concurrency: ReadonlyMap<string, ConcurrencyRule>;
  rate: ReadonlyMap<string, RateRule>;
  budget: ReadonlyMap<string, BudgetRule>;
}

export const NO_OVERRIDES: FlowOverrides = { concurrency: new Map(), rate: new Map(), budget: new Map() };

export interface KeyRules {
  concurrency?: ConcurrencyRule;
  rate?: RateRule;
  budget?: BudgetRule;
}

/** Whether a pattern matches a key: `*` matches any run of characters, everything else itself. */
export function patternMatches(pattern: string, key: string): boolean {
  if (!pattern.includes('*')) return pattern === key;
  const parts = pattern.split('*');
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (!key.startsWith(first) || key.length < first.length + last.length || !key.endsWith(last)) return false;
  let at = first.length;
  for (const part of parts.slice(1, -1)) {
    const i = key.indexOf(part, at);
    if (i < 0 || i + part.length > key.length - last.length) return false;
    at = i + part.length;
  }
  return true;
}

/** The rule of the most specific matching pattern: an exact key, else the one with most literal characters. */
export function ruleFor<R>(rules: Readonly<Record<string, R>>, key: string): R | undefined {
  const exact = rules[key];
  if (exact !== undefined) return exact;
  let best: { rule: R; literal: number } | undefined;
  for (const [pattern, rule] of Object.entries(rules)) {
    if (!pattern.includes('*') || !patternMatches(pattern, key)) continue;
    const literal = pattern.replaceAll('*', '').length;
    if (best === undefined || literal > best.literal) best = { rule, literal };
  }
  return best?.rule;
}

/** Every rule that applies to a key: its run-time override, else its configured pattern. */
export function rulesFor(policy: FlowPolicy, overrides: FlowOverrides, key: string): KeyRules {
  const rules: KeyRules = {};
  const concurrency = overrides.concurrency.get(key) ?? ruleFor(policy.concurrency, key);
  const rate = overrides.rate.get(key) ?? ruleFor(policy.rate, key);
  const budget = overrides.budget.get(key) ?? ruleFor(policy.budget, key);
  if (concurrency !== undefined) rules.concurrency = concurrency;
  if (rate !== undefined) rules.rate = rate;
  if (budget !== undefined) rules.budget = budget;
  return rules;
}

/** A tenant's weight (default 1). */
export function weightOf(policy: FlowPolicy, tenant: string): number {
  return ruleFor(policy.fairness, tenant)?.weight ?? 1;
}

// ---------------------------------------------------------------- buckets

/** A token bucket: holds at most `capacity`, refills `perMs` each millisecond. */
export interface BucketSpec {
  capacity: number;
  perMs: number;
}

/** What a store keeps of a bucket: its level when last written (it refills from there). */
export interface BucketState {
  level: number;
  updated_ms: number;
}

/** A bucket's name within its key: `rate`, or `<unit>/minute` and `<unit>/day` for budgets. */
export function bucketsOf(rules: KeyRules): Array<{ name: string; spec: BucketSpec; unit: string | null }> {
  const out: Array<{ name: string; spec: BucketSpec; unit: string | null }> = [];
  if (rules.rate !== undefined) {
    const r = rules.rate;
    out.push({ name: 'rate', unit: null, spec: { capacity: r.burst, perMs: r.limit / r.window_ms } });
  }
  const b = rules.budget;
  if (b !== undefined && b.per_minute > 0)
    out.push({
      name: `${b.unit}/minute`,
      unit: b.unit,
      spec: { capacity: b.per_minute, perMs: b.per_minute / 60_000 },
    });
  if (b !== undefined && b.per_day > 0)
    out.push({ name: `${b.unit}/day`, unit: b.unit, spec: { capacity: b.per_day, perMs: b.per_day / 86_400_000 } });
  return out;
}

/** The level now: refilled since it was written, never above capacity (a bucket never written is full). */
export function levelNow(state: BucketState | undefined, spec: BucketSpec, now: number): number {
  if (state === undefined) return spec.capacity;
  return Math.min(spec.capacity, state.level + Math.max(0, now - state.updated_ms) * spec.perMs);
}

/**
 * What one dispatch takes from a bucket: the amount, but never more than its
 * capacity (a task larger than the whole bucket runs when the bucket is full,
 * and the bucket goes below zero, instead of waiting forever).
 */
export function needOf(amount: number, spec: BucketSpec): number {
  return Math.min(amount, spec.capacity);
}

/** Milliseconds until a bucket at `level` holds `need` (0: it does now). */
export function msUntil(level: number, need: number, spec: BucketSpec): number {
  if (level >= need) return 0;
  if (spec.perMs <= 0) return Number.POSITIVE_INFINITY;
  return Math.ceil((need - level) / spec.perMs);
}

/** The amount a bucket of `unit` is charged for a dispatch (rate buckets: 1). */
export function chargeOf(unit: string | null, cost: Amounts | null): number {
  if (unit === null) return 1;
  return cost?.[unit] ?? 0;
}

// ---------------------------------------------------------------- validation

/** A concurrency key or tenant name, checked. */
export function flowKey(value: unknown, field: string): string {
  if (typeof value !== 'string' || !KEY.test(value))
    throw invalid(field, 'expected a key of 1 to 128 letters, digits or _ . : / @ + = - (no spaces, no *)');
  return value;
}

export function parseConcurrencyKeys(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const items = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(items)) throw invalid('concurrency_key', 'expected a key or an array of keys');
  if (items.length > MAX_FLOW_KEYS) throw invalid('concurrency_key', `must have at most ${MAX_FLOW_KEYS} keys`);
  const keys = items.map((k, i) => flowKey(k, Array.isArray(value) ? `concurrency_key[${i}]` : 'concurrency_key'));
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup !== undefined) throw invalid('concurrency_key', `duplicate key ${JSON.stringify(dup)}`);
  return keys;
}

export function parseFairnessKey(value: unknown): string {
  if (value === undefined || value === null) return DEFAULT_TENANT;
  return flowKey(value, 'fairness_key');
}

/** Amounts by unit (a task's cost estimate or an agent's usage): known units only, finite, not negative. */
export function parseAmounts(value: unknown, field: string, units: readonly string[]): Amounts | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(field, 'expected an object of unit: amount');
  const out: Amounts = {};
  for (const [unit, amount] of Object.entries(value as Record<string, unknown>)) {
    checkNoNul(unit, field);
    if (!units.includes(unit))
      throw invalid(`${field}.${unit}`, `unknown unit; the configured units are ${units.join(', ') || '(none)'}`);
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0 || amount > MAX_AMOUNT)
      throw invalid(`${field}.${unit}`, `expected a number from 0 to ${MAX_AMOUNT}, got ${JSON.stringify(amount)}`);
    out[unit] = amount;
  }
  return Object.keys(out).length === 0 ? null : out;
}

/** A run-time rule (PUT /api/flow/:kind/:key), checked like its configuration table. */
export function parseRule(kind: RuleKind, body: unknown, units: readonly string[]): KeyRules[RuleKind] {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('(body)', 'expected a JSON object');
  const b = body as Record<string, unknown>;
  const allowed = {
    concurrency: ['limit'],
    rate: ['limit', 'window_ms', 'burst'],
    budget: ['unit', 'per_minute', 'per_day'],
  }[kind];
  for (const k of Object.keys(b)) if (!allowed.includes(k)) throw invalid(k, 'unknown field');
  const count = (k: string, min: number, fallback?: number): number => {
    const v = b[k] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 1e12)
      throw invalid(k, `expected an integer of at least ${min}, got ${JSON.stringify(v)}`);
    return v;
  };
  if (kind === 'concurrency') return { limit: count('limit', 1) };
  if (kind === 'rate') {
    const limit = count('limit', 1);
    return { limit, window_ms: count('window_ms', 1, 1000), burst: count('burst', 1, limit) };
  }
  const unit = b['unit'] ?? units[0];
  if (typeof unit !== 'string' || !units.includes(unit))
    throw invalid('unit', `unknown unit; the configured units are ${units.join(', ') || '(none)'}`);
  const rule = { unit, per_minute: count('per_minute', 0, 0), per_day: count('per_day', 0, 0) };
  if (rule.per_minute === 0 && rule.per_day === 0) throw invalid('per_minute', 'set per_minute or per_day above 0');
  return rule;
}

/** The policy from [flow] (configuration's shape; optional keys take their defaults). */
export function policyFrom(flow: {
  units: readonly string[];
  concurrency: Readonly<Record<string, ConcurrencyRule>>;
  rate: Readonly<Record<string, { limit: number; window_ms?: number; burst?: number }>>;
  budget: Readonly<Record<string, { unit: string; per_minute?: number; per_day?: number }>>;
  fairness: Readonly<Record<string, FairnessRule>>;
}): FlowPolicy {
  const map = <A, B>(o: Readonly<Record<string, A>>, f: (a: A) => B): Record<string, B> =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));
  return {
    units: flow.units,
    concurrency: flow.concurrency,
    rate: map(flow.rate, (r) => ({ limit: r.limit, window_ms: r.window_ms ?? 1000, burst: r.burst ?? r.limit })),
    budget: map(flow.budget, (b) => ({ unit: b.unit, per_minute: b.per_minute ?? 0, per_day: b.per_day ?? 0 })),
    fairness: flow.fairness,
  };
}
