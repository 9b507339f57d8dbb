/** The pure flow rules: patterns, buckets, the claim's plan (fair share, limits, no head-of-line blocking), settlements, input. */
import assert from 'node:assert/strict';
import {
  EMPTY_POLICY,
  NO_OVERRIDES,
  levelNow,
  msUntil,
  parseAmounts,
  parseConcurrencyKeys,
  parseRule,
  patternMatches,
  planClaim,
  policyFrom,
  ruleFor,
  settlement,
  type FlowCandidate,
  type FlowFacts,
  type FlowPolicy,
} from '../../src/domain/index.js';

const NOW = 1_000_000;
const facts = (policy: Partial<FlowPolicy>, over: Partial<FlowFacts> = {}): FlowFacts => ({
  policy: { ...EMPTY_POLICY, ...policy },
  overrides: NO_OVERRIDES,
  running: new Map(),
  buckets: new Map(),
  tenants: new Map(),
  clock: 0,
  now: NOW,
  ...over,
});
const tasks = (tenant: string, n: number, keys: string[] = [], cost: Record<string, number> | null = null) =>
  Array.from({ length: n }, (_, i): FlowCandidate => ({ id: `${tenant}${i}`, tenant, keys, cost }));

describe('flow rules', () => {
  it('matches patterns: exact first, then the most literal characters', () => {
    assert.ok(patternMatches('tenant:*', 'tenant:acme'));
    assert.ok(patternMatches('*:gpt*', 'model:gpt-4'));
    assert.ok(!patternMatches('tenant:*', 'model:x'));
    assert.ok(!patternMatches('a*b*c', 'acb'));
    const rules = { '*': 1, 'tenant:*': 2, 'tenant:acme': 3, 'tenant:ac*': 4 };
    assert.equal(ruleFor(rules, 'tenant:acme'), 3);
    assert.equal(ruleFor(rules, 'tenant:acorn'), 4);
    assert.equal(ruleFor(rules, 'tenant:b'), 2);
    assert.equal(ruleFor(rules, 'other'), 1);
  });

  it('refills buckets at their rate, never above capacity, and says when they hold enough', () => {
    const spec = { capacity: 10, perMs: 0.01 };
    assert.equal(levelNow(undefined, spec, NOW), 10);
    assert.equal(levelNow({ level: 2, updated_ms: NOW - 300 }, spec, NOW), 5);
    assert.equal(levelNow({ level: 2, updated_ms: NOW - 10_000 }, spec, NOW), 10);
    assert.equal(msUntil(5, 8, spec), 300);
    assert.equal(msUntil(9, 8, spec), 0);
  });

  it('serves tenants by weight and keeps serving one alone (work-conserving)', () => {
    const f = facts({ fairness: { a: { weight: 2 } } });
    const plan = planClaim(
      f,
      new Map([
        ['a', tasks('a', 100)],
        ['b', tasks('b', 100)],
      ]),
      30,
    );
    assert.equal(plan.admitted.filter((t) => t.tenant === 'a').length, 20);
    assert.equal(plan.admitted.filter((t) => t.tenant === 'b').length, 10);
    const alone = planClaim(f, new Map([['b', tasks('b', 100)]]), 30);
    assert.equal(alone.admitted.length, 30);
  });

  it('a key at its limit stops its tasks and not the others; a task needs every key', () => {
    const f = facts({ concurrency: { k: { limit: 2 }, j: { limit: 5 } } }, { running: new Map([['j', 5]]) });
    const list = [...tasks('x', 5, ['k']), ...tasks('y', 3, ['free']), ...tasks('z', 2, ['k2', 'j'])];
    const plan = planClaim(f, new Map([['', list]]), 100);
    assert.deepEqual(
      plan.admitted.map((t) => t.id),
      ['x0', 'x1', 'y0', 'y1', 'y2'],
    );
    assert.equal(plan.refused.get('x2')?.code, 'CONCURRENCY_LIMIT');
    assert.equal(plan.refused.get('z0')?.key, 'j');
  });

  it('charges rate and budget buckets and writes their changes relative to what is stored', () => {
    const f = facts(
      {
        rate: { api: { limit: 10, window_ms: 1000, burst: 3 } },
        budget: { api: { unit: 'tokens', per_minute: 600, per_day: 0 } },
      },
      { buckets: new Map([['api tokens/minute', { level: 250, updated_ms: NOW }]]) },
    );
    const plan = planClaim(f, new Map([['', tasks('t', 5, ['api'], { tokens: 100 })]]), 10);
    assert.equal(plan.admitted.length, 2, 'the budget holds 250: two of 100, the third needs 100 more');
    const byName = new Map(plan.buckets.map((b) => [b.bucket, b]));
    assert.equal(byName.get('rate')?.level, 1);
    assert.equal(byName.get('tokens/minute')?.delta, -200);
    const refused = plan.refused.get('t2');
    assert.equal(refused?.code, 'BUDGET_EXHAUSTED');
    assert.equal(refused?.until, NOW + 5000, '50 tokens short at 10 a second');
  });

  it('settles a reservation to the usage reported; a release gives everything back', () => {
    const policy = { ...EMPTY_POLICY, budget: { llm: { unit: 'tokens', per_minute: 10_000, per_day: 0 } } };
    const task = { keys: ['llm'], cost: { tokens: 1000 } };
    assert.deepEqual(
      settlement(policy, NO_OVERRIDES, task, { tokens: 400 }, false).map((w) => w.delta),
      [600],
    );
    assert.deepEqual(
      settlement(policy, NO_OVERRIDES, task, { tokens: 1500 }, false).map((w) => w.delta),
      [-500],
    );
    assert.deepEqual(settlement(policy, NO_OVERRIDES, task, null, false), []);
    assert.deepEqual(
      settlement(policy, NO_OVERRIDES, task, null, true).map((w) => w.delta),
      [1000],
    );
  });

  it('refuses bad input naming the field', () => {
    assert.throws(() => parseAmounts({ dollars: 1 }, 'cost', ['tokens']), /cost\.dollars: unknown unit/);
    assert.throws(() => parseAmounts({ tokens: -1 }, 'cost', ['tokens']), /cost\.tokens/);
    assert.throws(() => parseAmounts([1], 'cost', ['tokens']), /cost: expected an object/);
    assert.throws(() => parseConcurrencyKeys(['a', 'a']), /duplicate key/);
    assert.throws(() => parseConcurrencyKeys('a b'), /concurrency_key/);
    assert.throws(() => parseRule('concurrency', { limit: 0 }, ['tokens']), /limit/);
    assert.throws(() => parseRule('budget', { unit: 'tokens' }, ['tokens']), /per_minute or per_day/);
    assert.deepEqual(parseRule('rate', { limit: 5 }, ['tokens']), { limit: 5, window_ms: 1000, burst: 5 });
  });

  it('takes configuration defaults: window 1 s, burst = limit, budgets absent = 0', () => {
    const p = policyFrom({
      units: ['tokens'],
      concurrency: {},
      rate: { r: { limit: 7 } },
      budget: { b: { unit: 'tokens', per_day: 100 } },
      fairness: {},
    });
    assert.deepEqual(p.rate['r'], { limit: 7, window_ms: 1000, burst: 7 });
    assert.deepEqual(p.budget['b'], { unit: 'tokens', per_minute: 0, per_day: 100 });
  });
});
