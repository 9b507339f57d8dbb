/** Pure rules of the task engine: backoff, retry policy, learning, bulk dependency plans, pool scaling. */
import assert from 'node:assert/strict';
import { afterFailure, backoffDelay, learn, planBulk, type NewTask } from '../../src/domain/index.js';
import { decideScaling } from '../../actors/swarm-coordinator/scaling.js';

const policy = { initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0.2 };
const t = (depends_on: string[] = []): NewTask => ({
  title: 't',
  description: '',
  type: 'g',
  priority: 'low',
  required_capabilities: [],
  payload: null,
  max_attempts: 3,
  timeout_ms: 1,
  run_at: null,
  idempotency_key: null,
  depends_on,
});

describe('task engine rules', () => {
  it('backs off exponentially with bounded jitter, capped at the maximum', () => {
    assert.equal(
      backoffDelay(policy, 1, () => 0.5),
      100,
    );
    assert.equal(
      backoffDelay(policy, 3, () => 0.5),
      400,
    );
    assert.equal(
      backoffDelay(policy, 10, () => 0.5),
      1000,
    );
    assert.equal(
      backoffDelay(policy, 1, () => 0),
      80,
    );
    assert.equal(
      backoffDelay(policy, 1, () => 1),
      120,
    );
  });

  it('retries retryable failures until max_attempts, then dead; permanent failures end failed', () => {
    assert.deepEqual(
      afterFailure(policy, true, 1, 3, () => 0.5),
      { action: 'retry', delayMs: 100 },
    );
    assert.deepEqual(afterFailure(policy, true, 3, 3), { action: 'dead' });
    assert.deepEqual(afterFailure(policy, false, 1, 3), { action: 'failed' });
  });

  it('learns within [0, 1], only for the capabilities a task required', () => {
    const caps = [
      { name: 'a', proficiency: 0.5 },
      { name: 'b', proficiency: 0.5 },
    ];
    const up = learn(caps, [{ name: 'a', min_proficiency: 0 }], true, 0.5);
    assert.deepEqual(up, [
      { name: 'a', proficiency: 0.75 },
      { name: 'b', proficiency: 0.5 },
    ]);
    const down = learn(caps, [{ name: 'a', min_proficiency: 0 }], false, 0.5);
    assert.equal(down[0]?.proficiency, 0.25);
    let p = caps;
    for (let i = 0; i < 100; i++) p = learn(p, [{ name: 'a', min_proficiency: 0 }], true, 0.9);
    assert.ok((p[0]?.proficiency ?? 2) <= 1);
  });

  it('plans a bulk submission: keys become ids, dependencies come first, cycles are refused by name', () => {
    const items = [t(['b']), t([]), t(['a', 'b'])];
    const order = planBulk(items, ['a', 'b', 'c']);
    assert.deepEqual(order, [1, 0, 2]);
    assert.deepEqual(items[0]?.depends_on, [items[1]?.id]);
    assert.throws(
      () => planBulk([t(['y']), t(['x'])], ['x', 'y']),
      /tasks\[\d\]\.depends_on: dependency cycle: (x -> y -> x|y -> x -> y)/,
    );
    assert.throws(() => planBulk([t(['self'])], ['self']), /dependency cycle: self -> self/);
    assert.throws(() => planBulk([t(['nope'])], [undefined]), /neither a task id nor the key of another item/);
    assert.throws(() => planBulk([t(), t()], ['k', 'k']), /duplicate key "k"/);
  });

  it('scales the pool up under backlog, down when idle, within its bounds', () => {
    const base = { min: 1, max: 6, capacity: 2, running: 2, pendingPerSlot: 4 };
    assert.deepEqual(decideScaling({ ...base, poolSize: 2, pending: 100 })?.to, 3);
    assert.equal(decideScaling({ ...base, poolSize: 6, pending: 100 }), undefined);
    assert.deepEqual(decideScaling({ ...base, poolSize: 3, pending: 0, running: 0 }), {
      action: 'scale_down',
      from: 3,
      to: 2,
      reason: 'nothing waits and every agent is idle',
    });
    assert.equal(decideScaling({ ...base, poolSize: 1, pending: 0, running: 0 }), undefined);
    assert.equal(decideScaling({ ...base, poolSize: 0, pending: 0 })?.to, 1, 'below the minimum');
    assert.equal(decideScaling({ ...base, max: 0, poolSize: 2, pending: 100 }), undefined, 'scaling off');
  });
});
