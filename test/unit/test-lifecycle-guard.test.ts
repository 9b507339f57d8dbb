import assert from 'node:assert/strict';
import { openSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { checkRecordedMove } from '../../src/domain/index.js';
import { newTask } from '../helpers/tasks.js';

describe('the lifecycle guards the stores', () => {
  it('a transition a caller declares outside the lifecycle is refused before anything is written', async () => {
    const store = openSqliteStore(':memory:');
    await store.migrate();
    try {
      const { task } = await store.createTask(newTask({ timeout_ms: 1000 }), 'n');
      const cancelled = await store.transitionTask(task.id, { from: ['pending'], to: 'cancelled', nodeId: 'n' });
      assert.equal(cancelled?.status, 'cancelled');
      // cancelled is terminal: "from cancelled to pending" is no move of the table.
      await assert.rejects(
        store.transitionTask(task.id, { from: ['cancelled'], to: 'pending', nodeId: 'n' }),
        (err: Error & { code?: string }) => err.code === 'INVALID_STATE',
      );
      assert.equal((await store.getTask(task.id))?.status, 'cancelled');
      assert.equal(
        (await store.listTaskEvents(task.id)).filter((e) => e.to_status === 'pending' && e.from_status === 'cancelled')
          .length,
        0,
      );
    } finally {
      await store.close();
    }
  });

  it("a recorded move outside the lifecycle is the hub's bug (INTERNAL)", () => {
    assert.throws(
      () => checkRecordedMove('x', 'completed', 'running'),
      (err: Error & { code?: string }) =>
        err.code === 'INTERNAL' && /completed -> running is not a transition/.test(err.message),
    );
    assert.doesNotThrow(() => checkRecordedMove('x', 'running', 'pending'));
  });
});
