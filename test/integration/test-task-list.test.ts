/**
 * The task list's filters, orders and the dead-letter groups, on both engines:
 * each filter alone and together, a title search that treats % and _ literally,
 * a time range, sorts with stable pages, and failed/dead tasks counted by code.
 */
import assert from 'node:assert/strict';
import { STORE_ENGINES, type OpenedStore } from '../helpers/stores.js';
import type { Store, TaskFinish } from '../../src/storage/index.js';
import type { NewTask, Task } from '../../src/domain/index.js';
import { requirePostgres } from '../helpers/postgres.js';
import { newTask } from '../helpers/tasks.js';

const NODE = 'n1';
const PAGE = { limit: 100, offset: 0 };

function failure(t: Task, status: 'failed' | 'dead', code: string): TaskFinish {
  const at = new Date().toISOString();
  return {
    id: t.id,
    epoch: t.lease_epoch,
    status,
    agentId: null,
    result: null,
    error: { code, message: `${code} happened`, retryable: false },
    startedAt: at,
    completedAt: at,
  };
}

for (const engine of STORE_ENGINES) {
  describe(`task list filters and dead-letter groups: ${engine.name}`, function () {
    this.timeout(30_000);
    let opened: OpenedStore;
    let store: Store;
    const add = async (over: Partial<NewTask>): Promise<Task> =>
      (await store.createTasks([newTask(over)], NODE))[0]!.task;
    const titles = async (f: Parameters<Store['listTasks']>[0]): Promise<string[]> =>
      (await store.listTasks(f)).items.map((t) => t.title);

    beforeEach(async function () {
      if (engine.name === 'postgres') await requirePostgres(this);
      opened = await engine.open();
      store = opened.store;
    });
    afterEach(async () => opened?.cleanup());

    it('filters by concurrency key, tenant and title text (case-insensitive, % and _ literal)', async () => {
      await add({ title: 'Summarise Q3 report', concurrency_keys: ['llm:openai', 'tenant:a'], fairness_key: 'acme' });
      await add({ title: 'translate 100% of it', concurrency_keys: ['llm:anthropic'], fairness_key: 'acme' });
      await add({ title: 'plain_task', fairness_key: 'globex' });
      assert.deepEqual(await titles({ ...PAGE, concurrency_key: 'llm:openai' }), ['Summarise Q3 report']);
      assert.deepEqual(await titles({ ...PAGE, concurrency_key: 'tenant:a' }), ['Summarise Q3 report']);
      assert.deepEqual(await titles({ ...PAGE, concurrency_key: 'llm' }), [], 'a key matches whole, not as a prefix');
      assert.deepEqual(await titles({ ...PAGE, fairness_key: 'acme', order: 'desc' }), [
        'translate 100% of it',
        'Summarise Q3 report',
      ]);
      assert.deepEqual(await titles({ ...PAGE, text: 'q3 REPORT' }), ['Summarise Q3 report']);
      assert.deepEqual(await titles({ ...PAGE, text: '100%' }), ['translate 100% of it']);
      assert.deepEqual(
        await titles({ ...PAGE, text: '%' }),
        ['translate 100% of it'],
        '% is a character, not a wildcard',
      );
      assert.deepEqual(await titles({ ...PAGE, text: 'lai_' }), [], '_ is a character, not a wildcard');
      assert.deepEqual(await titles({ ...PAGE, text: 'plain_' }), ['plain_task']);
      assert.deepEqual(await titles({ ...PAGE, fairness_key: 'acme', text: 'translate' }), ['translate 100% of it']);
      assert.equal((await store.listTasks({ ...PAGE, fairness_key: 'acme' })).total, 2);
    });

    it('keeps a time range, and sorts by priority, title and status with pages that never overlap', async () => {
      const a = await add({ title: 'b-low', priority: 'low' });
      await new Promise((r) => setTimeout(r, 15));
      const b = await add({ title: 'a-critical', priority: 'critical' });
      await new Promise((r) => setTimeout(r, 15));
      await add({ title: 'c-high', priority: 'high' });
      assert.deepEqual(await titles({ ...PAGE, created_after: b.created_at }), ['a-critical', 'c-high']);
      assert.deepEqual(await titles({ ...PAGE, created_before: b.created_at }), ['b-low']);
      assert.deepEqual(await titles({ ...PAGE, created_after: a.created_at, created_before: b.created_at }), ['b-low']);
      assert.deepEqual(await titles({ ...PAGE, sort: 'priority', order: 'desc' }), ['a-critical', 'c-high', 'b-low']);
      assert.deepEqual(await titles({ ...PAGE, sort: 'title' }), ['a-critical', 'b-low', 'c-high']);
      for (let i = 0; i < 20; i++) await add({ title: 'same', priority: 'medium' });
      const seen = new Set<string>();
      for (let offset = 0; offset < 23; offset += 5) {
        const page = await store.listTasks({ limit: 5, offset, sort: 'priority', order: 'desc' });
        for (const t of page.items) {
          assert.ok(!seen.has(t.id), `task ${t.id} on two pages`);
          seen.add(t.id);
        }
      }
      assert.equal(seen.size, 23, 'every task on exactly one page');
    });

    it('counts failed and dead tasks by status and error code, and filters the list by code', async () => {
      for (let i = 0; i < 6; i++) await add({ title: `t${i}` });
      const claimed = await store.claimTasks({ nodeId: NODE, limit: 10, leaseMs: 30_000 });
      const codes = ['RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED', 'BAD_INPUT', 'BAD_INPUT', 'RATE_LIMITED'];
      const statuses = ['failed', 'failed', 'dead', 'failed', 'failed', 'failed'] as const;
      await store.finishTasks(
        claimed.map((t, i) => failure(t, statuses[i]!, codes[i]!)),
        NODE,
      );
      const groups = await store.groupErrors(['dead', 'failed'], 100);
      assert.deepEqual(
        groups.map((g) => [g.status, g.code, g.count]),
        [
          ['failed', 'RATE_LIMITED', 3],
          ['failed', 'BAD_INPUT', 2],
          ['dead', 'RATE_LIMITED', 1],
        ],
      );
      assert.match(groups[0]!.message, /RATE_LIMITED happened/);
      assert.ok(Date.parse(groups[0]!.latest_at) > 0);
      assert.deepEqual(
        (await store.groupErrors(['dead'], 100)).map((g) => g.code),
        ['RATE_LIMITED'],
      );
      assert.equal((await store.groupErrors(['dead', 'failed'], 1)).length, 1, 'at most limit groups');
      assert.equal((await store.listTasks({ ...PAGE, status: 'failed', error_code: 'RATE_LIMITED' })).total, 3);
      assert.equal((await store.listTasks({ ...PAGE, error_code: 'BAD_INPUT' })).total, 2);
    });
  });
}
