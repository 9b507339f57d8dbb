/**
 * Bulk hand-off, on both stores: a bulk submission that finds this node's queue
 * drained is stored already claimed, as far as the deques have room, and runs
 * without a claim; the rest waits for a claim. A bulk that arrives while older
 * work is queued overtakes nothing, and a bulk the database refuses gives its
 * room back.
 */
import assert from 'node:assert/strict';
import { hubStack, type HubStack } from '../../bench/lib/hub-stack.js';
import type { Handler } from '../../src/engine/handler.js';
import type { AgentManagementMsg, AgentView } from '../../actors/agent-management/messages.js';
import type { Submitted } from '../../actors/task-distributor/messages.js';
import type { NewTask } from '../../src/domain/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait-for.js';
import { newTask } from '../helpers/tasks.js';

function handoffSuite(engine: 'sqlite' | 'postgres'): void {
  describe(`bulk hand-off (${engine})`, function () {
    this.timeout(60_000);
    let db: TestDatabase | undefined;
    let stack: HubStack;
    const started: string[] = [];
    const napping: Handler = async (task) => {
      started.push(task.title);
      await new Promise((r) => setTimeout(r, Number((task.payload as { ms?: number } | null)?.ms ?? 0)));
      return null;
    };

    beforeEach(async function () {
      if (engine === 'postgres') {
        await requirePostgres(this);
        db = await createTestDatabase();
      }
      // One agent of concurrency 2 and a prefetch of 2: room for 4 tasks here.
      const env: Record<string, string> = { HIVE_AGENTS_DEFAULT_POOL_SIZE: '0', HIVE_TASKS_PREFETCH: '2' };
      if (db !== undefined) env['HIVE_DATABASE_URL'] = db.url;
      stack = await hubStack(env, { napping });
      started.length = 0;
      await stack.hive.ask(stack.hive.modules.agent_management, (replyTo: ReplyTo<AgentView>): AgentManagementMsg => ({
        type: 'agent.register',
        agent: { name: 'a', type: 'worker', capabilities: [], executor: 'napping', kind: 'local', max_concurrency: 2 },
        replyTo,
      }));
    });

    afterEach(async () => {
      await stack?.close();
      await db?.drop();
      db = undefined;
    });

    const bulk = (tasks: NewTask[]): Promise<Submitted[]> =>
      stack.hive.to(stack.hive.modules.task_management)('task.submit_bulk', { tasks });
    const handoffs = (): number => stack.engine.stats().handoffs;
    const allEnded = async (ids: string[]): Promise<boolean> => {
      for (const id of ids) if ((await stack.store.getTask(id))?.status !== 'completed') return false;
      return true;
    };
    /** The queue is drained once a claim found less than it asked for: a bulk of one that ran shows it. */
    const settle = async (): Promise<void> => {
      const [first] = await bulk([newTask({ title: 'warm-up' })]);
      await waitFor(() => allEnded([first!.task.id]), 10_000, 'the warm-up task');
      await waitFor(async () => (await stack.store.countPending(10)) === 0, 5000, 'an empty queue');
      await new Promise((r) => setTimeout(r, 50)); // the claim after the last end has run
    };

    it('stores as many as there is room for claimed, runs them without a claim, and claims the rest', async () => {
      await settle();
      const before = handoffs();
      const out = await bulk(Array.from({ length: 10 }, (_, i) => newTask({ title: `b${i}`, payload: { ms: 20 } })));
      const claimed = out.filter((s) => s.task.status === 'assigned');
      assert.equal(claimed.length, 4, 'room for 4: one agent of 2 slots, prefetch 2');
      assert.ok(
        claimed.every((s) => s.task.attempts === 1 && s.task.assigned_agent === null),
        'stored claimed',
      );
      assert.equal(out.filter((s) => s.task.status === 'pending').length, 6);
      await waitFor(() => allEnded(out.map((s) => s.task.id)), 20_000, 'every task of the bulk to complete');
      assert.equal(handoffs() - before, 4);
      const stored = await stack.store.getTask(claimed[0]!.task.id);
      assert.equal(stored?.attempts, 1, 'one attempt: the hand-off was the claim');
    });

    it('overtakes nothing: a bulk that finds older work queued waits for a claim', async () => {
      await settle();
      const first = await bulk(Array.from({ length: 8 }, (_, i) => newTask({ title: `old${i}`, payload: { ms: 50 } })));
      const second = await bulk(Array.from({ length: 4 }, (_, i) => newTask({ title: `new${i}`, payload: { ms: 1 } })));
      assert.ok(
        second.every((s) => s.task.status === 'pending'),
        'older tasks are queued: nothing of the second bulk is handed off',
      );
      await waitFor(() => allEnded([...first, ...second].map((s) => s.task.id)), 20_000, 'both bulks to complete');
      const lastOld = Math.max(...first.map((s) => started.indexOf(s.task.title)));
      const firstNew = Math.min(...second.map((s) => started.indexOf(s.task.title)));
      assert.ok(lastOld < firstNew, `every old task started before the new ones: ${started.join(' ')}`);
    });

    if (engine === 'postgres') {
      it('a bulk the database refuses stores nothing and gives its room back', async () => {
        await settle();
        const poisoned = Array.from({ length: 3 }, (_, i) => newTask({ title: `p${i}`, payload: { s: 'a\u0000b' } }));
        await assert.rejects(bulk(poisoned), (err: Error & { code?: string }) => err.code === 'DATABASE_ERROR');
        assert.equal((await stack.store.listTasks({ limit: 10, offset: 0, text: 'p1' })).total, 0);
        const out = await bulk(Array.from({ length: 4 }, (_, i) => newTask({ title: `c${i}` })));
        assert.equal(out.filter((s) => s.task.status === 'assigned').length, 4, 'the room came back whole');
        await waitFor(() => allEnded(out.map((s) => s.task.id)), 10_000, 'the next bulk to complete');
      });
    }
  });
}

handoffSuite('sqlite');
handoffSuite('postgres');
