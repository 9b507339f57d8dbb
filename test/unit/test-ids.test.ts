/** Task ids: UUID version 7, time first, so that newer tasks sort after older ones (the primary key's right edge). */
import assert from 'node:assert/strict';
import { newTaskId } from '../../src/domain/index.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('task ids (UUID v7)', () => {
  it('are version 7 with the RFC variant, and carry their millisecond time', () => {
    const at = Date.parse('2026-12-04T12:34:56.789Z');
    const id = newTaskId(at);
    assert.match(id, V7);
    assert.equal(parseInt(id.replace(/-/g, '').slice(0, 12), 16), at);
  });

  it('sort by time, and are unique within a millisecond', () => {
    const ids = [newTaskId(1_000), newTaskId(1_001), newTaskId(2 ** 40), newTaskId(2 ** 47)];
    assert.deepEqual([...ids].sort(), ids);
    const same = new Set(Array.from({ length: 100_000 }, () => newTaskId(5_000)));
    assert.equal(same.size, 100_000);
    for (const id of [...same].slice(0, 1000)) assert.match(id, V7);
  });
});
