/**
 * Retention of ended tasks ([tasks] retention_days), on both engines: ended
 * tasks past the cutoff go with their events; open tasks, recent ones, a task an
 * open task depends on and the parent of an open child stay; deletes come in
 * batches of the limit; a prune that fails is logged and the next one runs
 * (the database away for a while costs one warning an hour, nothing else).
 */
import assert from 'node:assert/strict';
import { STORE_ENGINES, type OpenedStore } from '../helpers/stores.js';
import type { Store, TaskFinish } from '../../src/storage/index.js';
import { inBatches, keepPruning } from '../../src/storage/index.js';
import { memoryLogger } from '../helpers/logs.js';
import { waitFor } from '../helpers/wait-for.js';
import type { NewTask, Task } from '../../src/domain/index.js';
import { requirePostgres } from '../helpers/postgres.js';
import { newTask } from '../helpers/tasks.js';

const NODE = 'n1';

function completed(t: Task): TaskFinish {
  const at = new Date().toISOString();
  return {
    id: t.id,
    epoch: t.lease_epoch,
    status: 'completed',
    agentId: null,
    result: 1,
    startedAt: at,
    completedAt: at,
  };
}

for (const engine of STORE_ENGINES) {
  describe(`ended-task retention: ${engine.name}`, function () {
    this.timeout(30_000);
    let opened: OpenedStore;
    let store: Store;
    const add = async (over: Partial<NewTask> = {}): Promise<Task> =>
      (await store.createTasks([newTask(over)], NODE, [{ leaseMs: 60_000 }]))[0]!.task;
    const end = async (t: Task): Promise<void> => void (await store.finishTasks([completed(t)], NODE));
    const exists = async (t: Task): Promise<boolean> => (await store.getTask(t.id)) !== undefined;
    const future = (): string => new Date(Date.now() + 60_000).toISOString();

    beforeEach(async function () {
      if (engine.name === 'postgres') await requirePostgres(this);
      opened = await engine.open();
      store = opened.store;
    });
    afterEach(async () => opened?.cleanup());

    it('deletes ended tasks past the cutoff with their events, and keeps open and recent ones', async () => {
      const old = await add({ title: 'old' });
      await end(old);
      await store.transitionTask((await add({ title: 'cancelled' })).id, { op: 'cancel', nodeId: NODE });
      const open = await add({ title: 'still running' });
      const pending = (await store.createTasks([newTask({ title: 'pending' })], NODE))[0]!.task;
      assert.equal(await store.pruneTasks(new Date(Date.now() - 60_000).toISOString(), 100), 0, 'nothing is that old');
      assert.equal(await store.pruneTasks(future(), 100), 2, 'the completed and the cancelled one');
      assert.equal(await exists(old), false);
      assert.deepEqual(await store.listTaskEvents(old.id), [], 'its events went with it');
      assert.equal(await exists(open), true);
      assert.equal(await exists(pending), true);
    });

    it('keeps a task an open task depends on, and the parent of an open child', async () => {
      const dependency = await add({ title: 'dependency' });
      await end(dependency);
      const dependant = (
        await store.createTasks([newTask({ title: 'dependant', depends_on: [dependency.id] })], NODE)
      )[0]!.task;
      const parent = await add({ title: 'parent' });
      const child = (await store.createTasks([newTask({ title: 'child', parent_id: parent.id })], NODE))[0]!.task;
      await end(parent);
      assert.equal((await store.getTask(child.id))?.status, 'pending', 'the child outlives its parent');
      assert.equal(await store.pruneTasks(future(), 100), 0);
      assert.equal(await exists(dependency), true);
      assert.equal(await exists(parent), true);
      // Once the dependant and the child have ended too, all four go.
      await store.transitionTask(dependant.id, { op: 'cancel', nodeId: NODE });
      await store.transitionTask(child.id, { op: 'cancel', nodeId: NODE });
      assert.equal(await store.pruneTasks(future(), 100), 4);
      assert.equal(await exists(dependency), false);
      assert.equal(await exists(parent), false);
    });

    it('deletes in batches of the limit until a batch comes back short', async () => {
      for (let i = 0; i < 7; i++) await end(await add({ title: `e${i}` }));
      const sizes: number[] = [];
      const total = await inBatches(async (limit) => {
        const n = await store.pruneTasks(future(), limit);
        sizes.push(n);
        return n;
      }, 3);
      assert.equal(total, 7);
      assert.deepEqual(sizes, [3, 3, 1]);
    });
  });
}

describe('retention runs', () => {
  it('prunes at once with the cutoff of its days, logs what it deleted, and logs a failure without throwing', async () => {
    const { log, records } = memoryLogger();
    const cutoffs: string[] = [];
    let fail = true;
    const prune = (before: string): Promise<number> => {
      cutoffs.push(before);
      return fail ? Promise.reject(new Error('database unreachable')) : Promise.resolve(3);
    };
    const stop = keepPruning({ days: 2, prune, log, event: 'tasks.pruned', module: 'tasks', what: 'ended tasks' });
    await waitFor(() => records.some((r) => String(r['msg']).includes('database unreachable')), 2000, 'the warning');
    stop();
    const age = Date.now() - Date.parse(cutoffs[0]!);
    assert.ok(Math.abs(age - 2 * 86_400_000) < 5000, `cutoff two days back: ${cutoffs[0]}`);
    fail = false;
    const stop2 = keepPruning({ days: 2, prune, log, event: 'tasks.pruned', module: 'tasks', what: 'ended tasks' });
    await waitFor(() => records.some((r) => r['event'] === 'tasks.pruned' && r['count'] === 3), 2000, 'the info line');
    stop2();
    assert.equal(
      keepPruning({ days: 0, prune, log, event: 'x', module: 'x', what: 'x' })(),
      undefined,
      '0 days keeps all',
    );
    assert.equal(cutoffs.length, 2, 'days = 0 never prunes');
  });
});
