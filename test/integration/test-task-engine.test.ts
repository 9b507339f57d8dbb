/**
 * The durable task engine on both engines, in process (store, actors, runner):
 * retries with backoff, dead and redrive, timeouts by policy, cancellation,
 * dependencies, expired leases, work stealing, learning and pool scaling.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hubStack, type HubStack } from '../../bench/lib/hub-stack.js';
import { TaskFailure, sleep, type Handler } from '../../src/engine/handler.js';
import type { AgentManagementMsg, AgentView } from '../../actors/agent-management/messages.js';
import type { Redriven, Submitted, TaskDetail, TaskManagementMsg } from '../../actors/task-distributor/messages.js';
import type { HubEvent, ReplyTo } from '../../src/runtime/index.js';
import type { NewAgent, NewTask, Task } from '../../src/domain/index.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait-for.js';
import { newTask } from '../helpers/tasks.js';

/** Fails until payload.succeed_at, then succeeds (retryable failures). */
const flaky: Handler = (task) => {
  const p = (task.payload ?? {}) as { succeed_at?: number };
  if (task.attempt < (p.succeed_at ?? Number.POSITIVE_INFINITY))
    throw new TaskFailure(`attempt ${task.attempt} failed`, true, 'FLAKY');
  return { attempt: task.attempt };
};

/** Sleeps payload.ms; used to hold an agent busy. */
const nap: Handler = async (task, ctx) => {
  await sleep((task.payload as { ms: number }).ms, ctx.signal);
  return task.attempt;
};

function engineSuite(engine: 'sqlite' | 'postgres'): void {
  describe(`task engine (${engine})`, function () {
    this.timeout(60_000);
    let db: TestDatabase | undefined;
    let tmp: string;
    let stack: HubStack;
    const events: HubEvent[] = [];

    before(async function () {
      if (engine === 'postgres') {
        await requirePostgres(this);
        db = await createTestDatabase();
      }
      tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-engine-'));
      const env: Record<string, string> = {
        HIVE_DATABASE_DATA_DIR: tmp,
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '0',
        HIVE_TASKS_BACKOFF_INITIAL_MS: '20',
        HIVE_TASKS_BACKOFF_MAX_MS: '100',
        HIVE_TASKS_LEASE_MS: '1000',
        HIVE_AGENTS_LEARNING_RATE: '0.1',
      };
      if (db !== undefined) env['HIVE_DATABASE_URL'] = db.url;
      stack = await hubStack(env, { flaky, nap });
      stack.events.subscribe((e) => events.push(e));
    });

    after(async () => {
      await stack?.close();
      await db?.drop();
      if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
    });

    const tasks = <R>(build: (replyTo: ReplyTo<R>) => TaskManagementMsg): Promise<R> =>
      stack.hive.ask(stack.hive.modules.task_management, build);
    const agents = <R>(build: (replyTo: ReplyTo<R>) => AgentManagementMsg): Promise<R> =>
      stack.hive.ask(stack.hive.modules.agent_management, build);
    const submit = async (t: Partial<NewTask>): Promise<Task> =>
      (
        await tasks((replyTo: ReplyTo<Submitted>): TaskManagementMsg => ({
          type: 'task.submit',
          task: newTask(t),
          replyTo,
        }))
      ).task;
    const detail = (id: string): Promise<TaskDetail> =>
      tasks((replyTo: ReplyTo<TaskDetail>): TaskManagementMsg => ({ type: 'task.get', id, replyTo }));
    const settled = async (id: string, status: string, ms = 10_000): Promise<TaskDetail> => {
      await waitFor(async () => (await detail(id)).status === status, ms, `task ${id} to be ${status}`);
      return detail(id);
    };
    const agent = (a: Partial<NewAgent> & { name: string }): Promise<AgentView> =>
      agents((replyTo: ReplyTo<AgentView>): AgentManagementMsg => ({
        type: 'agent.register',
        agent: { type: 'worker', capabilities: [], executor: 'echo', kind: 'local', max_concurrency: 1, ...a },
        replyTo,
      }));
    const remove = (id: string): Promise<AgentView> =>
      agents((replyTo: ReplyTo<AgentView>): AgentManagementMsg => ({ type: 'agent.remove', id, replyTo }));

    it('retries retryable failures with backoff, then completes', async () => {
      const a = await agent({ name: 'flaky-1', executor: 'flaky', capabilities: [{ name: 'flaky', proficiency: 1 }] });
      const t = await submit({
        required_capabilities: [{ name: 'flaky', min_proficiency: 0 }],
        payload: { succeed_at: 3 },
        max_attempts: 5,
      });
      const done = await settled(t.id, 'completed');
      assert.equal(done.attempts, 3);
      assert.deepEqual(done.result, { attempt: 3 });
      const retries = done.events.filter(
        (e) => e.to_status === 'pending' && (e.detail as { reason?: string } | null)?.reason === 'retry',
      );
      assert.equal(retries.length, 2);
      for (const r of retries) assert.ok((r.detail as { delay_ms: number }).delay_ms >= 0);
      assert.ok(events.some((e) => e.type === 'task.retrying' && (e.data as Task).id === t.id));
      await remove(a.id);
    });

    it('makes a task dead after its last attempt, lists it, and redrives it', async () => {
      const a = await agent({ name: 'flaky-2', executor: 'flaky', capabilities: [{ name: 'doomed', proficiency: 1 }] });
      const t = await submit({
        required_capabilities: [{ name: 'doomed', min_proficiency: 0 }],
        payload: { succeed_at: 99 },
        max_attempts: 2,
      });
      const dead = await settled(t.id, 'dead');
      assert.equal(dead.attempts, 2);
      assert.deepEqual(dead.error, { code: 'FLAKY', message: 'attempt 2 failed', retryable: true });
      const listed = await tasks((replyTo: ReplyTo<{ items: Task[] }>): TaskManagementMsg => ({
        type: 'task.list',
        filter: { status: 'dead', limit: 100, offset: 0 },
        replyTo,
      }));
      assert.ok(listed.items.some((x) => x.id === t.id));
      await remove(a.id);
      const r = await tasks((replyTo: ReplyTo<Redriven>): TaskManagementMsg => ({
        type: 'task.redrive',
        status: 'dead',
        ids: [t.id],
        limit: 100,
        replyTo,
      }));
      assert.equal(r.redriven, 1);
      const back = await detail(t.id);
      assert.deepEqual([back.status, back.attempts, back.error], ['pending', 0, null]);
      const b = await agent({ name: 'flaky-3', executor: 'flaky', capabilities: [{ name: 'doomed', proficiency: 1 }] });
      await settled(t.id, 'dead');
      await remove(b.id);
    });

    it('retries a task that timed out, then makes it dead (timeouts are retryable)', async () => {
      const a = await agent({
        name: 'napper-1',
        executor: 'nap',
        capabilities: [{ name: 'slowpoke', proficiency: 1 }],
      });
      const t = await submit({
        required_capabilities: [{ name: 'slowpoke', min_proficiency: 0 }],
        payload: { ms: 5000 },
        timeout_ms: 30,
        max_attempts: 2,
      });
      const dead = await settled(t.id, 'dead');
      assert.equal(dead.attempts, 2);
      assert.equal(dead.error?.code, 'TASK_TIMEOUT');
      await remove(a.id);
    });

    it('cancels a pending task and a running one (its handler sees the abort)', async () => {
      const later = await submit({ run_at: new Date(Date.now() + 3_600_000).toISOString() });
      const c1 = await tasks((replyTo: ReplyTo<Task>): TaskManagementMsg => ({
        type: 'task.cancel',
        id: later.id,
        reason: 'not needed',
        replyTo,
      }));
      assert.equal(c1.status, 'cancelled');
      const a = await agent({ name: 'napper-2', executor: 'nap', capabilities: [{ name: 'nap', proficiency: 1 }] });
      const t = await submit({ required_capabilities: [{ name: 'nap', min_proficiency: 0 }], payload: { ms: 30_000 } });
      await settled(t.id, 'running');
      await tasks((replyTo: ReplyTo<Task>): TaskManagementMsg => ({
        type: 'task.cancel',
        id: t.id,
        reason: 'stop',
        replyTo,
      }));
      await waitFor(() => stack.engine.load(a.id) === 0, 5000, 'the handler to stop');
      assert.equal((await detail(t.id)).status, 'cancelled');
      await remove(a.id);
    });

    it('runs a dependency chain in order and cancels the dependants of a failure', async () => {
      const a = await agent({
        name: 'chain',
        executor: 'flaky',
        capabilities: [{ name: 'chain', proficiency: 1 }],
        max_concurrency: 4,
      });
      const req = [{ name: 'chain', min_proficiency: 0 }];
      const first = await submit({ title: 'first', required_capabilities: req, payload: { succeed_at: 1 } });
      const second = await submit({
        title: 'second',
        required_capabilities: req,
        payload: { succeed_at: 1 },
        depends_on: [first.id],
      });
      const third = await submit({
        title: 'third',
        required_capabilities: req,
        payload: { succeed_at: 1 },
        depends_on: [first.id, second.id],
      });
      const d3 = await settled(third.id, 'completed');
      const d2 = await detail(second.id);
      const d1 = await detail(first.id);
      assert.ok((d1.completed_at ?? '') <= (d2.started_at ?? ''), 'second started after first completed');
      assert.ok((d2.completed_at ?? '') <= (d3.started_at ?? ''), 'third started after second completed');
      assert.deepEqual(d3.depends_on.sort(), [first.id, second.id].sort());

      // run_at holds `bad` back until its dependants are stored (a dependant of an ended task is refused).
      const bad = await submit({
        title: 'bad',
        required_capabilities: req,
        payload: { succeed_at: 99 },
        max_attempts: 1,
        run_at: new Date(Date.now() + 300).toISOString(),
      });
      const child = await submit({ title: 'child', required_capabilities: req, depends_on: [bad.id] });
      const grandchild = await submit({ title: 'grandchild', required_capabilities: req, depends_on: [child.id] });
      await settled(bad.id, 'dead');
      for (const id of [child.id, grandchild.id]) {
        const c = await settled(id, 'cancelled');
        assert.equal(c.error?.code, 'DEPENDENCY_FAILED');
      }
      await assert.rejects(submit({ depends_on: [bad.id] }), /already ended dead/);
      await remove(a.id);
    });

    it("requeues a task whose owner stopped extending its lease, refuses the owner's late finish, and runs it here", async () => {
      const t = await submit({ type: 'orphan', required_capabilities: [{ name: 'orphan', min_proficiency: 0 }] });
      const [stolen] = await stack.store.claimTasks({ nodeId: 'zombie-node', limit: 1, leaseMs: 50, ids: [t.id] });
      assert.ok(stolen);
      const a = await agent({ name: 'rescuer', executor: 'echo', capabilities: [{ name: 'orphan', proficiency: 1 }] });
      const done = await settled(t.id, 'completed', 15_000);
      assert.ok(done.events.some((e) => (e.detail as { reason?: string } | null)?.reason === 'lease expired'));
      const late = await stack.store.finishTasks(
        [
          {
            id: t.id,
            epoch: stolen.lease_epoch,
            status: 'completed',
            agentId: null,
            result: 'zombie',
            startedAt: null,
            completedAt: new Date().toISOString(),
          },
        ],
        'zombie-node',
      );
      assert.deepEqual(late.stale, [t.id]);
      assert.notEqual((await detail(t.id)).result, 'zombie');
      await remove(a.id);
    });

    it("lets idle agents steal a busy agent's queued tasks", async () => {
      const busy = await agent({
        name: 'steal-busy',
        executor: 'nap',
        capabilities: [{ name: 'steal', proficiency: 1 }],
      });
      const ids: string[] = [];
      for (let i = 0; i < 4; i++)
        ids.push(
          (await submit({ required_capabilities: [{ name: 'steal', min_proficiency: 0 }], payload: { ms: 300 } })).id,
        );
      await waitFor(
        () => (stack.engine.stats().work_stealing.deques['steal-busy'] ?? 0) >= 2,
        5000,
        "a backlog in the busy agent's deque",
      );
      const before = stack.engine.stats().work_stealing.steals;
      const helpers = [
        await agent({ name: 'steal-idle-1', executor: 'nap', capabilities: [{ name: 'steal', proficiency: 0.5 }] }),
        await agent({ name: 'steal-idle-2', executor: 'nap', capabilities: [{ name: 'steal', proficiency: 0.5 }] }),
      ];
      for (const id of ids) await settled(id, 'completed');
      assert.ok(stack.engine.stats().work_stealing.steals > before);
      const ran = new Set(await Promise.all(ids.map(async (id) => (await detail(id)).assigned_agent)));
      assert.ok(
        helpers.some((h) => ran.has(h.id)),
        'a helper ran some of them',
      );
      for (const a of [busy, ...helpers]) await remove(a.id);
    });

    it('learns: proficiency rises on success and falls on failure, and is stored', async () => {
      const a = await agent({
        name: 'learner',
        executor: 'flaky',
        capabilities: [
          { name: 'learn', proficiency: 0.5 },
          { name: 'other', proficiency: 0.5 },
        ],
      });
      const ok = await submit({
        required_capabilities: [{ name: 'learn', min_proficiency: 0 }],
        payload: { succeed_at: 1 },
      });
      await settled(ok.id, 'completed');
      await waitFor(
        async () =>
          ((await stack.store.getAgent(a.id))?.capabilities.find((c) => c.name === 'learn')?.proficiency ?? 0) > 0.5,
        5000,
        'proficiency to rise and be stored',
      );
      const stored = await stack.store.getAgent(a.id);
      assert.equal(
        stored?.capabilities.find((c) => c.name === 'other')?.proficiency,
        0.5,
        'capabilities the task did not need are unchanged',
      );
      const risen = stored?.capabilities.find((c) => c.name === 'learn')?.proficiency ?? 0;
      const bad = await submit({
        required_capabilities: [{ name: 'learn', min_proficiency: 0 }],
        payload: { succeed_at: 99 },
        max_attempts: 1,
      });
      await settled(bad.id, 'dead');
      await waitFor(
        async () =>
          ((await stack.store.getAgent(a.id))?.capabilities.find((c) => c.name === 'learn')?.proficiency ?? 1) < risen,
        5000,
        'proficiency to fall',
      );
      await remove(a.id);
    });
  });
}

engineSuite('sqlite');
engineSuite('postgres');

describe('pool scaling', function () {
  this.timeout(120_000);
  let tmp: string;
  let stack: HubStack;
  const scaling: Array<{ action: string; from: number; to: number }> = [];

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-scale-'));
    stack = await hubStack(
      {
        HIVE_DATABASE_DATA_DIR: tmp,
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '1',
        HIVE_AGENTS_DEFAULT_EXECUTOR: 'nap',
        HIVE_AGENTS_POOL_MIN_SIZE: '1',
        HIVE_AGENTS_POOL_MAX_SIZE: '4',
        HIVE_AGENTS_SCALE_COOLDOWN_SECONDS: '1',
        HIVE_AGENTS_SCALE_UP_PENDING_PER_SLOT: '2',
        HIVE_TASKS_PREFETCH: '1',
      },
      { nap },
    );
    stack.events.subscribe((e) => {
      if (e.type === 'hive.scaling') scaling.push(e.data as { action: string; from: number; to: number });
    });
  });

  after(async () => {
    await stack?.close();
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it('scales the pool up under a backlog and back down when idle, each decision an event', async () => {
    const batch = Array.from({ length: 120 }, () =>
      newTask({ required_capabilities: [{ name: 'general', min_proficiency: 0 }], payload: { ms: 200 } }),
    );
    await stack.hive.ask(stack.hive.modules.task_management, (replyTo: ReplyTo<Submitted[]>): TaskManagementMsg => ({
      type: 'task.submit_bulk',
      tasks: batch,
      replyTo,
    }));
    await waitFor(
      () => scaling.some((d) => d.action === 'scale_up' && d.to === 4),
      40_000,
      'the pool to reach its maximum of 4',
    );
    const summary = await stack.hive.ask(
      stack.hive.modules.agent_management,
      (replyTo: ReplyTo<{ pool: { size: number } }>): AgentManagementMsg => ({ type: 'agent.summarize', replyTo }),
    );
    assert.ok(summary.pool.size <= 4);
    await waitFor(
      () => scaling.some((d) => d.action === 'scale_down' && d.to === 1),
      40_000,
      'the pool to shrink back to its minimum of 1',
    );
    assert.ok(scaling.every((d) => d.to >= 1 && d.to <= 4));
  });
});
