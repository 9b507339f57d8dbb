/**
 * One conformance suite, run on both engines: the same calls must behave the same.
 */
import assert from 'node:assert/strict';
import { openSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { openPostgresStore } from '../../src/storage/postgres/postgres-store.js';
import type { Store, TaskFinish } from '../../src/storage/index.js';
import type { NewTask, Task } from '../../src/domain/index.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';
import { memoryLogger } from '../helpers/logs.js';
import { createOne } from '../helpers/tasks.js';

const newTask = (over: Partial<NewTask> = {}): NewTask => ({
  title: 't',
  description: '',
  type: 'general',
  priority: 'medium',
  required_capabilities: [],
  payload: { n: 1 },
  max_attempts: 3,
  timeout_ms: 1000,
  run_at: null,
  idempotency_key: null,
  depends_on: [],
  ...over,
});

interface Engine {
  name: string;
  open(): Promise<{ store: Store; another?: () => Store; cleanup: () => Promise<void> }>;
}

const engines: Engine[] = [
  {
    name: 'sqlite',
    open: () => {
      const store = openSqliteStore(':memory:');
      return Promise.resolve({ store, cleanup: () => store.close() });
    },
  },
  {
    name: 'postgres',
    open: async () => {
      const db: TestDatabase = await createTestDatabase();
      const { log } = memoryLogger();
      const make = (): Store =>
        openPostgresStore({
          url: db.url,
          maxConnections: 4,
          minConnections: 0,
          connectionTimeoutMs: 5000,
          idleTimeoutMs: 10000,
          log,
        });
      const store = make();
      const extra: Store[] = [];
      return {
        store,
        another: () => {
          const s = make();
          extra.push(s);
          return s;
        },
        cleanup: async () => {
          await Promise.all([store, ...extra].map((s) => s.close()));
          await db.drop();
        },
      };
    },
  },
];

for (const engine of engines) {
  describe(`store conformance: ${engine.name}`, function () {
    let store: Store;
    let another: (() => Store) | undefined;
    let cleanup: () => Promise<void> = () => Promise.resolve();

    before(async function () {
      if (engine.name === 'postgres') await requirePostgres(this);
      const opened = await engine.open();
      store = opened.store;
      another = opened.another;
      cleanup = opened.cleanup;
      assert.deepEqual(await store.migrate(), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });
    after(() => cleanup());

    it('running migrations again applies nothing', async () => {
      assert.deepEqual(await store.migrate(), []);
    });

    it('creates, reads, updates and deletes an agent', async () => {
      const a = await store.createAgent(
        {
          name: 'a1',
          type: 'worker',
          capabilities: [{ name: 'code', proficiency: 0.9 }],
          executor: 'echo',
          kind: 'local',
          max_concurrency: 2,
        },
        'n1',
      );
      assert.equal(a.state, 'idle');
      assert.deepEqual(await store.getAgent(a.id), a);
      const u = await store.updateAgent(a.id, { state: 'working', name: 'a1b' });
      assert.equal(u?.state, 'working');
      assert.equal(u?.name, 'a1b');
      assert.equal(await store.deleteAgent(a.id), true);
      assert.equal(await store.getAgent(a.id), undefined);
      assert.equal(await store.deleteAgent(a.id), false);
    });

    it('answers undefined for ids that are not UUIDs', async () => {
      assert.equal(await store.getAgent('nope'), undefined);
      assert.equal(await store.getTask("1'; DROP TABLE tasks; --"), undefined);
      assert.equal(await store.updateAgent('x', { name: 'y' }), undefined);
    });

    it('filters and pages agents by state, type and capability', async () => {
      for (let i = 0; i < 5; i++) {
        const caps = i % 2 === 0 ? [{ name: 'math', proficiency: 0.5 }] : [{ name: 'writing', proficiency: 0.7 }];
        const a = await store.createAgent(
          {
            name: `f${i}`,
            type: i < 3 ? 'specialist' : 'learner',
            capabilities: caps,
            executor: null,
            kind: 'remote',
            max_concurrency: 1,
          },
          'n1',
        );
        if (i === 0) await store.updateAgent(a.id, { state: 'offline' });
      }
      assert.equal((await store.listAgents({ capability: 'math', limit: 10, offset: 0 })).total, 3);
      assert.equal((await store.listAgents({ type: 'learner', limit: 10, offset: 0 })).total, 2);
      assert.equal((await store.listAgents({ state: 'offline', limit: 10, offset: 0 })).total, 1);
      const all = await store.listAgents({ kind: 'remote', limit: 10, offset: 0 });
      const page = await store.listAgents({ kind: 'remote', limit: 2, offset: 2 });
      assert.equal(page.total, 5);
      assert.deepEqual(
        page.items.map((a) => a.id),
        all.items.slice(2, 4).map((a) => a.id),
      );
    });

    it('creates and reads a task (its submission is not an event row: created_at is the record)', async () => {
      const { task, created } = await createOne(store, newTask({ title: 'hello', payload: 'just a string' }), 'n1');
      assert.equal(created, true);
      assert.equal(task.status, 'pending');
      assert.equal(task.payload, 'just a string');
      assert.deepEqual(await store.getTask(task.id), task);
      assert.deepEqual(await store.listTaskEvents(task.id), []);
    });

    it('returns the original task for a reused idempotency key', async () => {
      const first = await createOne(store, newTask({ idempotency_key: 'k-1' }), 'n1');
      const again = await createOne(store, newTask({ idempotency_key: 'k-1', title: 'different' }), 'n1');
      assert.equal(again.created, false);
      assert.equal(again.task.id, first.task.id);
      assert.equal(again.task.title, 't');
    });

    it('creates one task for concurrent submits with one idempotency key', async () => {
      const stores = another ? [store, another(), another()] : [store];
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          createOne(stores[i % stores.length]!, newTask({ idempotency_key: 'race' }), 'n1'),
        ),
      );
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal(new Set(results.map((r) => r.task.id)).size, 1);
    });

    it('filters and pages tasks by status, priority, agent and capability', async () => {
      const agent = await store.createAgent(
        { name: 'x', type: 'worker', capabilities: [], executor: null, kind: 'local', max_concurrency: 1 },
        'n1',
      );
      const a = await createOne(
        store,
        newTask({ priority: 'critical', required_capabilities: [{ name: 'translation', min_proficiency: 0.5 }] }),
        'n1',
      );
      await createOne(store, newTask({ priority: 'critical' }), 'n1');
      await store.transitionTask(a.task.id, {
        op: 'claim',
        patch: { assigned_agent: agent.id },
        nodeId: 'n1',
      });
      assert.equal((await store.listTasks({ priority: 'critical', limit: 10, offset: 0 })).total, 2);
      assert.equal((await store.listTasks({ capability: 'translation', limit: 10, offset: 0 })).total, 1);
      const byAgent = await store.listTasks({ agent: agent.id, limit: 10, offset: 0 });
      assert.deepEqual(
        byAgent.items.map((t) => t.id),
        [a.task.id],
      );
      assert.equal((await store.listTasks({ agent: 'not-a-uuid', limit: 10, offset: 0 })).total, 0);
      assert.ok(
        (await store.listTasks({ status: 'assigned', limit: 10, offset: 0 })).items.some((t) => t.id === a.task.id),
      );
      const page = await store.listTasks({ limit: 1, offset: 1 });
      assert.equal(page.items.length, 1);
    });

    it('applies a transition only from an allowed status, recording each event', async () => {
      const { task } = await createOne(store, newTask(), 'n1');
      const moved = await store.transitionTask(task.id, {
        op: 'cancel',
        nodeId: 'n1',
        detail: { reason: 'test' },
      });
      assert.equal(moved?.status, 'cancelled');
      assert.equal(await store.transitionTask(task.id, { op: 'claim', nodeId: 'n1' }), undefined);
      const events = await store.listTaskEvents(task.id);
      assert.deepEqual(
        events.map((e) => [e.from_status, e.to_status]),
        [['pending', 'cancelled']],
      );
      assert.deepEqual(events[0]?.detail, { reason: 'test' });
    });

    it('stores results and errors as JSON', async () => {
      const { task } = await createOne(store, newTask(), 'n1');
      await store.transitionTask(task.id, { op: 'claim', nodeId: 'n1' });
      await store.transitionTask(task.id, {
        op: 'start',
        patch: { started_at: new Date().toISOString() },
        nodeId: 'n1',
      });
      const done = await store.transitionTask(task.id, {
        op: 'fail',
        patch: { error: { code: 'X', message: 'boom', retryable: false } },
        nodeId: 'n1',
      });
      assert.deepEqual(done?.error, { code: 'X', message: 'boom', retryable: false });
      assert.ok(done?.started_at);
    });

    it('claims by priority then FIFO, and not before run_at', async () => {
      const fresh = await store.claimTasks({ nodeId: 'drain', limit: 10_000, leaseMs: 1000 });
      assert.ok(Array.isArray(fresh));
      const low = await createOne(store, newTask({ priority: 'low' }), 'n1');
      const high1 = await createOne(store, newTask({ priority: 'high' }), 'n1');
      const high2 = await createOne(store, newTask({ priority: 'high' }), 'n1');
      await createOne(
        store,
        newTask({ priority: 'critical', run_at: new Date(Date.now() + 3_600_000).toISOString() }),
        'n1',
      );
      const claimed = await store.claimTasks({ nodeId: 'n2', limit: 10, leaseMs: 30_000 });
      assert.deepEqual(
        claimed.map((t) => t.id),
        [high1.task.id, high2.task.id, low.task.id],
      );
      for (const t of claimed) {
        assert.equal(t.status, 'assigned');
        assert.equal(t.lease_owner, 'n2');
        assert.equal(t.lease_epoch, 1);
        assert.equal(t.attempts, 1);
        assert.ok(Date.parse(t.lease_expires_at ?? '') > Date.now());
      }
    });

    it('stores pause and max_concurrency on agents', async () => {
      const a = await store.createAgent(
        { name: 'p', type: 'worker', capabilities: [], executor: 'echo', kind: 'local', max_concurrency: 3 },
        'n1',
      );
      assert.equal(a.paused, false);
      assert.equal(a.max_concurrency, 3);
      const u = await store.updateAgent(a.id, { paused: true, max_concurrency: 5, type: 'specialist' });
      assert.deepEqual([u?.paused, u?.max_concurrency, u?.type], [true, 5, 'specialist']);
      assert.equal((await store.getAgent(a.id))?.paused, true);
    });

    it('fences a transition on the attempt number', async () => {
      const { task } = await createOne(store, newTask(), 'n1');
      await store.transitionTask(task.id, {
        op: 'claim',
        patch: { attempts: 1, lease_owner: 'n9' },
        nodeId: 'n1',
      });
      assert.equal(await store.transitionTask(task.id, { op: 'start', nodeId: 'n1', attempt: 2 }), undefined);
      assert.equal((await store.transitionTask(task.id, { op: 'start', nodeId: 'n1', attempt: 1 }))?.status, 'running');
      assert.deepEqual(
        (await store.listLeasedTasks('n9')).map((t) => t.id),
        [task.id],
      );
    });

    it('stores a batch of tasks all or nothing', async () => {
      const before = (await store.listTasks({ limit: 1, offset: 0 })).total;
      const ok = await store.createTasks(
        [
          newTask({ title: 'b1' }),
          newTask({ title: 'b2', idempotency_key: 'batch-key' }),
          newTask({ title: 'b2', idempotency_key: 'batch-key' }),
        ],
        'n1',
      );
      assert.deepEqual(
        ok.map((r) => r.created),
        [true, true, false],
      );
      assert.equal(ok[2]?.task.id, ok[1]?.task.id);
      const broken = newTask({ title: 'bad' }) as unknown as Record<string, unknown>;
      broken['priority'] = 'bogus'; // violates the priority CHECK: the whole batch must roll back
      await assert.rejects(store.createTasks([newTask({ title: 'b3' }), broken as unknown as NewTask], 'n1'));
      assert.equal((await store.listTasks({ limit: 1, offset: 0 })).total, before + 2);
    });

    describe('task engine', () => {
      const drain = (): Promise<Task[]> => store.claimTasks({ nodeId: 'drain', limit: 10_000, leaseMs: 60_000 });
      const finish = (t: Task, over: Partial<TaskFinish> = {}): TaskFinish => ({
        id: t.id,
        epoch: t.lease_epoch,
        status: 'completed',
        agentId: null,
        result: 'ok',
        startedAt: new Date().toISOString(),
        completedAt: new Date().toISOString(),
        ...over,
      });

      it('claims only tasks whose requirements the claimer offers (name and proficiency), each with a new epoch', async () => {
        await drain();
        const code = await createOne(
          store,
          newTask({ required_capabilities: [{ name: 'code', min_proficiency: 0.5 }] }),
          'n1',
        );
        const both = await createOne(
          store,
          newTask({
            required_capabilities: [
              { name: 'code', min_proficiency: 0 },
              { name: 'data-analysis', min_proficiency: 0.2 },
            ],
          }),
          'n1',
        );
        const expert = await createOne(
          store,
          newTask({ required_capabilities: [{ name: 'code', min_proficiency: 0.95 }] }),
          'n1',
        );
        const any = await createOne(store, newTask(), 'n1');
        const got = await store.claimTasks({ nodeId: 'n1', limit: 10, leaseMs: 60_000, offer: { code: 0.9 } });
        assert.deepEqual(got.map((t) => t.id).sort(), [code.task.id, any.task.id].sort());
        assert.ok(got.every((t) => t.lease_epoch === 1 && t.claimed_at !== null && t.status === 'assigned'));
        const rest = await store.claimTasks({
          nodeId: 'n1',
          limit: 10,
          leaseMs: 60_000,
          offer: { code: 0.9, 'data-analysis': 0.3 },
        });
        assert.deepEqual(
          rest.map((t) => t.id),
          [both.task.id],
        );
        assert.deepEqual(
          (await store.claimTasks({ nodeId: 'n1', limit: 10, leaseMs: 60_000, offer: { code: 1 } })).map((t) => t.id),
          [expert.task.id],
        );
      });

      it('stores finishes fenced on the epoch: a stale owner changes nothing', async () => {
        await drain();
        await createOne(store, newTask(), 'n1');
        const [t] = await store.claimTasks({ nodeId: 'a', limit: 1, leaseMs: 60_000 });
        assert.ok(t);
        // The lease is taken over (as after expiry): the old epoch is stale.
        await store.releaseTasks([{ id: t.id, epoch: t.lease_epoch }], 'a', 'test');
        const [again] = await store.claimTasks({ nodeId: 'b', limit: 1, leaseMs: 60_000 });
        assert.equal(again?.lease_epoch, 2);
        assert.equal(again?.attempts, 1, 'a released claim does not count as an attempt');
        const stale = await store.finishTasks([finish(t)], 'a');
        assert.deepEqual(stale, { applied: [], stale: [t.id], cascaded: [], changed: [] });
        const ok = await store.finishTasks([finish(again, { result: { v: 1 }, agentId: null })], 'b');
        assert.deepEqual(ok.applied, [{ id: t.id, status: 'completed' }]);
        const stored = await store.getTask(t.id);
        assert.deepEqual([stored?.status, stored?.result, stored?.lease_owner], ['completed', { v: 1 }, null]);
      });

      it('schedules a retry with run_at, then dead after the last attempt, recording why', async () => {
        await drain();
        const { task } = await createOne(store, newTask({ max_attempts: 2 }), 'n1');
        const [first] = await store.claimTasks({ nodeId: 'n1', limit: 1, leaseMs: 60_000 });
        const later = new Date(Date.now() + 3_600_000).toISOString();
        await store.finishTasks(
          [
            finish(first!, {
              status: 'pending',
              error: { code: 'X', message: 'flaky', retryable: true },
              runAt: later,
              completedAt: null,
              detail: { reason: 'retry' },
            }),
          ],
          'n1',
        );
        const waiting = await store.getTask(task.id);
        assert.deepEqual([waiting?.status, waiting?.run_at, waiting?.attempts], ['pending', later, 1]);
        assert.deepEqual(await store.claimTasks({ nodeId: 'n1', limit: 1, leaseMs: 60_000 }), [], 'not before run_at');
        const [second] = await store.claimTasks({ nodeId: 'n1', limit: 1, leaseMs: 60_000, ids: [task.id] });
        assert.equal(second?.attempts, 2);
        await store.finishTasks(
          [
            finish(second, {
              status: 'dead',
              error: { code: 'X', message: 'flaky', retryable: true },
              result: undefined,
            }),
          ],
          'n1',
        );
        assert.equal((await store.getTask(task.id))?.status, 'dead');
        assert.deepEqual(
          (await store.listTaskEvents(task.id)).map((e) => e.to_status),
          ['pending', 'dead'],
        );
      });

      it('readies a dependant when its dependencies complete, and cancels the chain when one fails', async () => {
        await drain();
        const a = await createOne(store, newTask({ title: 'a' }), 'n1');
        const b = await createOne(store, newTask({ title: 'b', depends_on: [a.task.id] }), 'n1');
        const c = await createOne(store, newTask({ title: 'c', depends_on: [b.task.id] }), 'n1');
        assert.deepEqual(await store.listDependencies(c.task.id), [b.task.id]);
        const first = await store.claimTasks({ nodeId: 'n1', limit: 10, leaseMs: 60_000 });
        assert.deepEqual(
          first.map((t) => t.id),
          [a.task.id],
          'b and c wait',
        );
        await store.finishTasks([finish(first[0]!)], 'n1');
        const second = await store.claimTasks({ nodeId: 'n1', limit: 10, leaseMs: 60_000 });
        assert.deepEqual(
          second.map((t) => t.id),
          [b.task.id],
        );
        const out = await store.finishTasks(
          [finish(second[0]!, { status: 'failed', error: { code: 'X', message: 'no', retryable: false } })],
          'n1',
        );
        assert.deepEqual(
          out.cascaded.map((t) => [t.id, t.status, t.error?.code]),
          [[c.task.id, 'cancelled', 'DEPENDENCY_FAILED']],
        );
        await assert.rejects(createOne(store, newTask({ depends_on: [b.task.id] }), 'n1'), /already ended failed/);
        await assert.rejects(
          createOne(store, newTask({ depends_on: ['2b1e7c4e-3f7e-4c8e-9d43-000000000000'] }), 'n1'),
          /depends_on\[0\]: no task with id/,
        );
      });

      it('wakes listeners when claimable tasks are stored (PostgreSQL LISTEN/NOTIFY)', async function () {
        if (store.engine !== 'postgres') this.skip(); // one node: nobody else to wake
        let woken = 0;
        const stop = await store.listenForTasks(() => woken++);
        await store.createTasks([newTask({ title: 'wake-1' }), newTask({ title: 'wake-2' })], 'n1');
        const deadline = Date.now() + 5000;
        while (woken === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        await stop();
        assert.ok(woken >= 1);
      });

      it("extends this node's leases and requeues expired ones of any node", async () => {
        await drain();
        const { task } = await createOne(store, newTask(), 'n1');
        const [t] = await store.claimTasks({ nodeId: 'zombie', limit: 1, leaseMs: 1 });
        assert.equal(t?.id, task.id);
        await new Promise((r) => setTimeout(r, 5));
        assert.equal(await store.extendLeases('someone-else', 60_000), 0);
        const requeued = await store.requeueExpired('n2', 100);
        assert.ok(requeued.some((r) => r.id === task.id && r.status === 'pending' && r.lease_owner === null));
        assert.deepEqual(
          (await store.finishTasks([finish(t)], 'zombie')).stale,
          [task.id],
          'the zombie cannot finish it',
        );
        const [mine] = await store.claimTasks({ nodeId: 'lease-keeper', limit: 1, leaseMs: 1 });
        assert.equal(await store.extendLeases('lease-keeper', 60_000), 1);
        await new Promise((r) => setTimeout(r, 5));
        assert.ok(!(await store.requeueExpired('n2', 100)).some((r) => r.id === mine?.id));
      });
    });

    it('counts tasks by status', async () => {
      const counts = await store.countTasksByStatus();
      const total = (await store.listTasks({ limit: 1, offset: 0 })).total;
      assert.equal(
        Object.values(counts).reduce((a, b) => a + b, 0),
        total,
      );
      assert.ok(counts.assigned >= 3);
    });

    it('counts pending tasks up to a cap', async () => {
      for (let i = 0; i < 3; i++) await createOne(store, newTask({ title: `pending ${i}` }), 'n1');
      const pending = (await store.countTasksByStatus()).pending;
      assert.ok(pending >= 3);
      assert.equal(await store.countPending(1_000_000), pending);
      assert.equal(await store.countPending(pending - 1), pending - 1, 'a larger count answers the cap');
    });

    describe('cluster membership', () => {
      const addr = (node: string): { node_id: string; address: string; grpc_port: number; http_port: number } => ({
        node_id: node,
        address: '127.0.0.1',
        grpc_port: 5000,
        http_port: 3000,
      });

      it('joins with a new epoch each time, heartbeats only the current incarnation, and leaves', async () => {
        const a1 = await store.joinCluster(addr('m-a'));
        assert.equal(a1.status, 'joining');
        const a2 = await store.joinCluster(addr('m-a'));
        assert.equal(a2.epoch, a1.epoch + 1);
        assert.equal(await store.heartbeatMember('m-a', a1.epoch), undefined, 'the old incarnation cannot heartbeat');
        assert.equal((await store.heartbeatMember('m-a', a2.epoch))?.status, 'active');
        assert.equal(await store.suspectMember('m-a', a2.epoch), true);
        assert.equal((await store.listMembers()).find((m) => m.node_id === 'm-a')?.status, 'suspect');
        assert.equal(
          (await store.heartbeatMember('m-a', a2.epoch))?.status,
          'active',
          'a heartbeat clears the suspicion',
        );
        await store.leaveCluster('m-a', a2.epoch);
        assert.equal((await store.listMembers()).find((m) => m.node_id === 'm-a')?.status, 'left');
        assert.equal(await store.heartbeatMember('m-a', a2.epoch), undefined);
      });

      it('declares a stale member dead once, releasing its leases and marking its agents offline in the same step', async () => {
        await store.claimTasks({ nodeId: 'drain', limit: 10_000, leaseMs: 60_000 });
        const b = await store.joinCluster(addr('m-b'));
        const agent = await store.createAgent(
          { name: 'on-b', type: 'worker', capabilities: [], executor: 'echo', kind: 'local', max_concurrency: 1 },
          'm-b',
        );
        for (let i = 0; i < 3; i++) await createOne(store, newTask({ title: `held-${i}` }), 'm-b');
        const held = await store.claimTasks({ nodeId: 'm-b', limit: 3, leaseMs: 60_000 });
        assert.equal(held.length, 3);
        assert.equal(
          await store.declareMemberDead('m-b', b.epoch, new Date(Date.now() - 60_000).toISOString(), 'm-c'),
          undefined,
          'a fresh heartbeat is not stale',
        );
        const staleBefore = new Date(Date.now() + 1000).toISOString();
        assert.equal(
          await store.declareMemberDead('m-b', b.epoch + 1, staleBefore, 'm-c'),
          undefined,
          'another incarnation is not this one',
        );
        assert.deepEqual(await store.declareMemberDead('m-b', b.epoch, staleBefore, 'm-c'), { released: 3, agents: 1 });
        assert.equal(await store.declareMemberDead('m-b', b.epoch, staleBefore, 'm-d'), undefined, 'declared once');
        for (const t of held) {
          const after = await store.getTask(t.id);
          assert.equal(after?.status, 'pending');
          assert.equal(after?.lease_owner, null);
          const events = await store.listTaskEvents(t.id);
          assert.match(JSON.stringify(events.at(-1)?.detail), /m-b was declared dead/);
        }
        assert.equal((await store.getAgent(agent.id))?.state, 'offline');
        assert.equal(await store.heartbeatMember('m-b', b.epoch), undefined, 'the dead incarnation cannot come back');
        // Its completions are fenced: the leases it held are gone.
        const stale = await store.finishTasks(
          held.map((t) => ({
            id: t.id,
            epoch: t.lease_epoch,
            status: 'completed' as const,
            agentId: agent.id,
            startedAt: new Date().toISOString(),
            completedAt: new Date().toISOString(),
            result: 1,
          })),
          'm-b',
        );
        assert.equal(stale.stale.length, 3);
        assert.equal((await store.joinCluster(addr('m-b'))).epoch, b.epoch + 1, 'it rejoins with a new epoch');
      });
    });

    it('never hands one task to two concurrent claimers', async function () {
      if (another === undefined) this.skip(); // one SQLite connection: claims are serialised by design
      await store.claimTasks({ nodeId: 'drain', limit: 10_000, leaseMs: 1000 });
      const N = 400;
      for (let i = 0; i < N; i++) await createOne(store, newTask({ title: `c${i}` }), 'n1');
      const claimers = Array.from({ length: 6 }, () => another!());
      const seen: string[] = [];
      await Promise.all(
        claimers.map(async (s, i) => {
          for (;;) {
            const got = await s.claimTasks({ nodeId: `c${i}`, limit: 7, leaseMs: 30_000 });
            if (got.length === 0) return;
            seen.push(...got.map((t) => t.id));
          }
        }),
      );
      assert.equal(seen.length, N);
      assert.equal(new Set(seen).size, N);
    });

    it('reports pool statistics and ping latency', async () => {
      const ms = await store.ping();
      assert.ok(ms >= 0);
      const pool = store.poolStats();
      assert.ok(pool.total >= 0 && pool.idle >= 0 && pool.waiting >= 0);
    });
  });
}
