/** The pure rules behind fault tolerance: batch isolation, outage-aware supervision, JSON limits. */
import assert from 'node:assert/strict';
import { HubError, isOutage } from '../../src/errors/index.js';
import { writeIsolating } from '../../src/storage/index.js';
import { decide, OUTAGE_BACKOFF_MAX_MS, type SupervisionPolicy } from '../../src/runtime/supervision.js';
import { checkJsonValue, MAX_JSON_DEPTH } from '../../src/domain/index.js';

const policy: SupervisionPolicy = {
  kind: 'restart',
  maxRestarts: 3,
  withinMs: 60_000,
  backoffInitialMs: 100,
  backoffMaxMs: 1000,
};

describe('batch isolation (writeIsolating)', () => {
  const writeRefusing = (bad: Set<number>, log: number[][]) => (batch: number[]) => {
    log.push(batch);
    if (batch.some((n) => bad.has(n))) return Promise.reject(new HubError('DATABASE_ERROR', 'refused'));
    return Promise.resolve(batch.length);
  };

  it('writes a clean batch in one call', async () => {
    const log: number[][] = [];
    const r = await writeIsolating([1, 2, 3], writeRefusing(new Set(), log), () => assert.fail('no poison'));
    assert.equal(log.length, 1);
    assert.deepEqual(
      r.parts.map((p) => p.items),
      [[1, 2, 3]],
    );
  });

  it('isolates each refused item and writes every other one', async () => {
    const poisoned: number[] = [];
    const items = Array.from({ length: 100 }, (_, i) => i);
    const r = await writeIsolating(items, writeRefusing(new Set([7, 63]), []), (n) => poisoned.push(n));
    assert.deepEqual(poisoned, [7, 63]);
    assert.deepEqual(
      r.parts.flatMap((p) => p.items).sort((a, b) => a - b),
      items.filter((n) => n !== 7 && n !== 63),
    );
    assert.equal(r.unwritten, undefined);
  });

  it('stops at an outage and returns what is not written, whole', async () => {
    let calls = 0;
    const r = await writeIsolating(
      [1, 2, 3, 4],
      (batch) => {
        calls++;
        if (calls === 1) return Promise.reject(new HubError('DATABASE_ERROR', 'refused'));
        if (calls === 2) return Promise.resolve(batch.length); // [1, 2] written
        return Promise.reject(new HubError('DATABASE_UNAVAILABLE', 'gone'));
      },
      () => assert.fail('an outage is no poison'),
    );
    assert.deepEqual(
      r.parts.map((p) => p.items),
      [[1, 2]],
    );
    assert.deepEqual(r.unwritten?.items, [3, 4]);
    assert.equal(r.unwritten?.err.code, 'DATABASE_UNAVAILABLE');
  });
});

describe('outage-aware supervision', () => {
  it('restarts an outage crash with growing backoff and never escalates it', () => {
    const times = [1, 2, 3];
    for (let streak = 0; streak < 30; streak++) {
      const d = decide(policy, times, 10, streak);
      assert.equal(d.action, 'restart');
      if (d.action === 'restart') {
        assert.deepEqual(d.recent, times, 'not counted toward the restart intensity');
        assert.ok(d.delayMs <= OUTAGE_BACKOFF_MAX_MS);
      }
    }
    assert.equal(decide(policy, times, 10).action, 'escalate', 'a real crash past the intensity still escalates');
  });

  it('tells outages from faults', () => {
    assert.ok(isOutage(new HubError('DATABASE_UNAVAILABLE', 'x')));
    assert.ok(isOutage(new HubError('STORAGE_UNAVAILABLE', 'x')));
    assert.ok(isOutage(new HubError('ACTOR_CRASHED', 'x', { cause: new HubError('DATABASE_UNAVAILABLE', 'y') })));
    assert.ok(!isOutage(new HubError('DATABASE_ERROR', 'x')));
    assert.ok(!isOutage(new Error('database unavailable')));
  });
});

describe('JSON values the stores can hold', () => {
  it('refuses a NUL in a nested string or key, naming the path', () => {
    assert.throws(
      () => checkJsonValue({ a: [1, { b: 'x\u0000' }] }, 'payload'),
      /payload\.a\[1\]\.b: must not contain the NUL/,
    );
    assert.throws(() => checkJsonValue({ ['k\u0000']: 1 }, 'payload'), /a key/);
  });

  it('accepts nesting up to the bound and refuses one level more', () => {
    const nest = (n: number): unknown => (n === 0 ? 1 : [nest(n - 1)]);
    checkJsonValue(nest(MAX_JSON_DEPTH), 'payload');
    assert.throws(() => checkJsonValue(nest(MAX_JSON_DEPTH + 1), 'payload'), /nesting deeper than 64/);
  });
});
