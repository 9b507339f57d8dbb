/**
 * Flow control in the store, on both engines: concurrency keys without
 * head-of-line blocking, rate buckets, token budgets reserved and settled,
 * fair share by weight (also when a tenant spreads over many keys), run-time
 * rules, usage reports, and (PostgreSQL) two stores claiming at once.
 */
import assert from 'node:assert/strict';
import { STORE_ENGINES, type OpenedStore } from '../helpers/stores.js';
import type { Store, TaskFinish } from '../../src/storage/index.js';
import { EMPTY_POLICY, type FlowPolicy, type NewTask, type Task } from '../../src/domain/index.js';
import { requirePostgres } from '../helpers/postgres.js';
import { newTask } from '../helpers/tasks.js';

const NODE = 'n1';
const claim = (store: Store, limit = 100): Promise<Task[]> =>
  store.claimTasks({ nodeId: NODE, limit, leaseMs: 30_000 });
const finish = (t: Task, usage?: Record<string, number>): TaskFinish => ({
  id: t.id,
  epoch: t.lease_epoch,
  status: 'completed',
  agentId: null,
  result: null,
  startedAt: new Date().toISOString(),
  completedAt: new Date().toISOString(),
  ...(usage === undefined ? {} : { usage }),
});
const count = (tasks: readonly Task[], f: (t: Task) => boolean): number => tasks.filter(f).length;

function policy(over: Partial<FlowPolicy>): FlowPolicy {
  return { ...EMPTY_POLICY, ...over };
}

type Opened = OpenedStore;
const engines = STORE_ENGINES;

for (const engine of engines) {
  describe(`flow control in the store: ${engine.name}`, function () {
    this.timeout(30_000);
    let opened: Opened;
    let store: Store;

    beforeEach(async function () {
      if (engine.name === 'postgres') await requirePostgres(this);
      opened = await engine.open();
      store = opened.store;
    });
    afterEach(() => opened?.cleanup());

    const submit = async (n: number, over: Partial<NewTask>): Promise<Task[]> =>
      (
        await store.createTasks(
          Array.from({ length: n }, () => newTask(over)),
          NODE,
        )
      ).map((r) => r.task);

    it('holds a key to its limit and lets other keys pass its waiting tasks', async () => {
      store.configureFlow(policy({ concurrency: { 'k:*': { limit: 3 } } }));
      await submit(10, { concurrency_keys: ['k:a'], priority: 'critical' });
      await submit(5, { concurrency_keys: ['other'], priority: 'low' });
      const first = await claim(store);
      assert.equal(
        count(first, (t) => t.concurrency_keys[0] === 'k:a'),
        3,
      );
      assert.equal(
        count(first, (t) => t.concurrency_keys[0] === 'other'),
        5,
      );
      assert.equal((await claim(store)).length, 0, 'k:a is full');
      await store.finishTasks([finish(first.find((t) => t.concurrency_keys[0] === 'k:a')!)], NODE);
      const next = await claim(store);
      assert.equal(next.length, 1);
      const [state] = await store.listFlowKeys(['k:a']);
      assert.equal(state?.running, 3);
      assert.equal(state?.waiting, 6);
      assert.deepEqual(state?.rules.concurrency, { limit: 3 });
    });

    it('a task with several keys runs only when every key allows it; a run-time rule wins over the pattern', async () => {
      store.configureFlow(policy({ concurrency: { 'k:*': { limit: 5 } } }));
      await store.setFlowRule('k:b', 'concurrency', { limit: 1 });
      await submit(4, { concurrency_keys: ['k:a', 'k:b'] });
      assert.equal((await claim(store)).length, 1);
      assert.equal(await store.setFlowRule('k:b', 'concurrency', undefined), true);
      assert.equal((await claim(store)).length, 3);
      assert.equal(await store.setFlowRule('k:b', 'concurrency', undefined), false);
    });

    it('a rate bucket admits its burst, then refills at its rate', async () => {
      store.configureFlow(policy({ rate: { api: { limit: 10, window_ms: 1000, burst: 5 } } }));
      await submit(30, { concurrency_keys: ['api'] });
      let refused: ReadonlyMap<string, { code: string; until?: number }> = new Map();
      const first = await store.claimTasks({
        nodeId: NODE,
        limit: 100,
        leaseMs: 30_000,
        onRefused: (r) => (refused = r),
      });
      assert.equal(first.length, 5);
      assert.equal([...refused.values()][0]?.code, 'RATE_LIMITED');
      const until = [...refused.values()][0]?.until ?? 0;
      assert.ok(
        until > Date.now() && until <= Date.now() + 150,
        `refills one within 100 ms, got ${until - Date.now()} ms`,
      );
      await new Promise((r) => setTimeout(r, 320));
      const second = await claim(store);
      assert.ok(second.length >= 2 && second.length <= 4, `about 3 refilled in 320 ms, got ${second.length}`);
      const released = await store.releaseTasks([{ id: second[0]!.id, epoch: second[0]!.lease_epoch }], NODE, 'test');
      assert.equal(released, 1);
      assert.ok((await claim(store)).length >= 1, 'a release gives its dispatch back');
    });

    it('a token budget reserves estimates and settles to the usage reported', async () => {
      store.configureFlow(policy({ budget: { llm: { unit: 'tokens', per_minute: 10_000, per_day: 0 } } }));
      await submit(40, { concurrency_keys: ['llm'], cost: { tokens: 1000 } });
      const first = await claim(store);
      assert.equal(first.length, 10, 'ten estimates of 1,000 fill 10,000');
      const [before] = await store.listFlowKeys(['llm']);
      assert.ok((before?.buckets[0]?.level ?? 99) < 100, 'the bucket is about empty');
      assert.equal((await claim(store)).length, 0);
      // Each used 500: 5,000 come back, which admits five more (plus what refilled meanwhile, 167 a second).
      await store.finishTasks(
        first.map((t) => finish(t, { tokens: 500 })),
        NODE,
      );
      const second = await claim(store);
      assert.ok(second.length >= 5 && second.length <= 6, `the refund admits five, got ${second.length}`);
      assert.deepEqual((await store.getTask(first[0]!.id))?.usage, { tokens: 500 });
      const waiting = (await store.listTasks({ status: 'pending', limit: 1, offset: 0 })).items[0]!;
      const block = (await store.flowBlocks([waiting])).get(waiting.id);
      assert.equal(block?.code, 'BUDGET_EXHAUSTED');
      assert.ok((block?.until ?? 0) > Date.now() + 1000, 'waits for the refill');
    });

    it('reports usage only for a task running on the reporting agent', async () => {
      const [t] = await submit(1, {});
      assert.equal(await store.reportUsage(t!.id, 'agent-x', { tokens: 1 }), 'not_running');
      assert.equal(
        await store.reportUsage('00000000-0000-4000-8000-00000000ffff', 'agent-x', { tokens: 1 }),
        'not_found',
      );
      const [claimed] = await claim(store);
      const agent = await store.createAgent(
        { name: 'a', type: 'worker', capabilities: [], executor: 'echo', kind: 'local', max_concurrency: 1 },
        NODE,
      );
      const other = await store.createAgent(
        { name: 'b', type: 'worker', capabilities: [], executor: 'echo', kind: 'local', max_concurrency: 1 },
        NODE,
      );
      await store.startTasks([
        { id: claimed!.id, epoch: claimed!.lease_epoch, agentId: agent.id, startedAt: new Date().toISOString() },
      ]);
      assert.equal(await store.reportUsage(claimed!.id, other.id, { tokens: 1 }), 'not_running');
      assert.equal(await store.reportUsage(claimed!.id, agent.id, { tokens: 7 }), 'ok');
      assert.deepEqual((await store.getTask(claimed!.id))?.usage, { tokens: 7 });
    });

    it('serves tenants by weight, however many keys a tenant spreads over, and work-conserving', async () => {
      store.configureFlow(policy({ fairness: { a: { weight: 3 } } }));
      // Tenant a floods first, over 200 keys (no limits): keys do not buy share.
      await store.createTasks(
        Array.from({ length: 400 }, (_, i) => newTask({ fairness_key: 'a', concurrency_keys: [`a:${i % 200}`] })),
        NODE,
      );
      await submit(50, { fairness_key: 'b' });
      await submit(50, { fairness_key: 'c' });
      const got = await claim(store, 50);
      const share = (k: string): number => count(got, (t) => t.fairness_key === k);
      assert.deepEqual([share('a'), share('b'), share('c')], [30, 10, 10], 'weights 3:1:1');
      const next = await claim(store, 200);
      const nextShare = (k: string): number => count(next, (t) => t.fairness_key === k);
      assert.deepEqual(
        [nextShare('a'), nextShare('b'), nextShare('c')],
        [120, 40, 40],
        'still 3:1:1 until b and c run out',
      );
      // Work-conserving: once b and c are empty, a takes every slot.
      const last = await claim(store, 100);
      assert.ok(last.every((t) => t.fairness_key === 'a'));
    });

    it('a tenant that was idle starts at the clock: no banked credit', async () => {
      await submit(100, { fairness_key: 'a' });
      await submit(100, { fairness_key: 'b' });
      assert.equal((await claim(store, 100)).length, 100);
      await submit(20, { fairness_key: 'c' });
      const got = await claim(store, 30);
      const c = count(got, (t) => t.fairness_key === 'c');
      assert.ok(c >= 9 && c <= 11, `c gets a third, not everything, got ${c}`);
    });

    it('priorities order within a tenant', async () => {
      await submit(5, { fairness_key: 'a', priority: 'low' });
      await submit(5, { fairness_key: 'a', priority: 'critical' });
      await submit(5, { fairness_key: 'b' });
      const got = await claim(store, 6);
      assert.ok(
        got.filter((t) => t.fairness_key === 'a').every((t) => t.priority === 'critical'),
        'a sends its critical tasks first',
      );
    });

    it('aging raises a waiting task one level per aging period, so low priority does not starve', async () => {
      const [low] = await submit(1, { priority: 'low', title: 'old-low' });
      await new Promise((r) => setTimeout(r, 60));
      const highs = [
        ...(await submit(3, { priority: 'high', title: 'new-high' })),
        ...(await submit(3, { priority: 'critical', title: 'new-critical' })),
      ];
      // The passes run at chosen times, from the rows' own created_at: a slow machine that takes longer than
      // one period to submit the highs cannot make them look old.
      const created = highs.map((t) => Date.parse(t.created_at));
      const first = Math.min(...created) + 49;
      assert.equal(await store.ageTasks(50, new Date(first)), 1, 'only the one that waited 50 ms');
      assert.equal(await store.ageTasks(50, new Date(first)), 0, 'not again before another period');
      assert.equal((await claim(store, 1))[0]?.priority, 'critical', 'critical still first');
      const second = Math.max(first + 50, Math.max(...created) + 50);
      assert.equal(await store.ageTasks(50, new Date(second)), 4, 'low (now medium) and the highs waited a period');
      assert.equal(
        await store.ageTasks(50, new Date(second + 50)),
        1,
        'low rises to critical; the others are there already',
      );
      // Low is critical now, and older than the rest: the claim takes it first; its priority field is unchanged.
      const [head] = await claim(store, 1);
      assert.equal(head?.id, low!.id);
      assert.equal(head?.priority, 'low');
      assert.equal((await claim(store, 1))[0]?.title, 'new-high', 'then the highs, raised before the new criticals');
    });

    it('aging raises at most 10,000 tasks a pass: a big backlog is raised over the next passes', async () => {
      const many = await submit(10_005, { priority: 'low', title: 'backlog' });
      const at = new Date(Math.max(...many.map((t) => Date.parse(t.created_at))) + 100);
      assert.equal(await store.ageTasks(50, at), 10_000);
      assert.equal(await store.ageTasks(50, at), 5, 'the rest on the next pass');
      assert.equal(await store.ageTasks(50, at), 0);
    });

    it('two stores claiming at once never exceed a key limit', async function () {
      if (opened.another === undefined) this.skip();
      const other = await opened.another();
      const p = policy({ concurrency: { hot: { limit: 4 } } });
      store.configureFlow(p);
      other.configureFlow(p);
      await submit(60, { concurrency_keys: ['hot'] });
      let done = 0;
      let maxHeld = 0;
      const worker = async (s: Store): Promise<void> => {
        while (done < 60) {
          const got = await s.claimTasks({ nodeId: NODE, limit: 10, leaseMs: 30_000 });
          const [state] = await s.listFlowKeys(['hot']);
          maxHeld = Math.max(maxHeld, state?.running ?? 0);
          if (got.length > 0) {
            await new Promise((r) => setTimeout(r, 5));
            await s.finishTasks(
              got.map((t) => finish(t)),
              NODE,
            );
            done += got.length;
          } else await new Promise((r) => setTimeout(r, 2));
        }
      };
      await Promise.all([worker(store), worker(other), worker(store), worker(other)]);
      assert.equal(done, 60);
      assert.ok(maxHeld <= 4, `at most 4 held at once, saw ${maxHeld}`);
    });
  });
}
