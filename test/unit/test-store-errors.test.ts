/** How driver errors map to the hub's codes: what the writer and the API retry, and what they refuse. */
import assert from 'node:assert/strict';
import { toStoreError } from '../../src/storage/sql/errors.js';
import { isOutage } from '../../src/errors/index.js';

const driver = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });

describe('store errors', () => {
  it('a deadlock or a serialization failure is retried like an outage (nothing of its transaction was stored)', () => {
    for (const code of ['40P01', '40001', '57P01', 'ECONNREFUSED']) {
      const e = toStoreError(driver(code, 'deadlock detected'));
      assert.equal(e.code, 'DATABASE_UNAVAILABLE', code);
      assert.ok(isOutage(e), code);
    }
  });

  it('a unique violation is a conflict, and anything else a database error refused on its own', () => {
    assert.equal(toStoreError(driver('23505')).code, 'CONFLICT');
    const other = toStoreError(driver('22P02', 'invalid input syntax'));
    assert.equal(other.code, 'DATABASE_ERROR');
    assert.equal(isOutage(other), false);
  });
});
