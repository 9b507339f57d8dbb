/**
 * Agents as supervised actors, on both stores: an agent's actor that crashes
 * (its row refused by the store, a poisoned outcome) is restarted with backoff
 * without touching its tasks or any other agent; past its restart intensity the
 * agent is `failed` and takes no new work until POST /api/agents/:id/restart.
 * Drain and cancel act on the agent's engine slot through its actor.
 */
import assert from 'node:assert/strict';
import { hubStack, type HubStack } from '../../bench/lib/hub-stack.js';
import type { Handler } from '../../src/engine/handler.js';
import type { AgentOutcome } from '../../src/engine/types.js';
import type { AgentView } from '../../actors/agent-management/messages.js';
import type { Store } from '../../src/storage/index.js';
import { AgentsApi } from '../../src/api/agents.js';
import { runModuleOp } from '../../actors/hive/module-ops.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait-for.js';
import { submitMany } from '../helpers/tasks.js';

/** Makes the store refuse one agent's row (not an outage: a fault of that row) while `refusing()` says so. */
function refuseRowOf(store: Store, id: () => string | undefined, refusing: () => boolean): void {
  const original = store.updateAgent.bind(store);
  store.updateAgent = (agentId, patch) =>
    agentId === id() && refusing() ? Promise.reject(new Error('injected row refusal')) : original(agentId, patch);
}

function agentSupervisionSuite(engine: 'sqlite' | 'postgres'): void {
  describe(`agent supervision (${engine})`, function () {
    this.timeout(60_000);
    let db: TestDatabase | undefined;
    let stack: HubStack;
    let api: AgentsApi;
    /** Which agents ran each task (a task that ran twice has two entries). */
    const ranOn = new Map<string, string[]>();
    const gates: Array<() => void> = [];
    const aborted: string[] = [];
    const counted: Handler = async (task, ctx) => {
      ranOn.set(task.id, [...(ranOn.get(task.id) ?? []), ctx.agent.id]);
      await new Promise((r) => setTimeout(r, 2));
      return null;
    };
    /** Runs until its gate opens; honours cancellation. */
    const gated: Handler = (task, ctx) => {
      ranOn.set(task.id, [...(ranOn.get(task.id) ?? []), ctx.agent.id]);
      return new Promise((resolve, reject) => {
        gates.push(() => resolve(null));
        ctx.signal.addEventListener('abort', () => {
          aborted.push(task.id);
          reject(new Error('aborted'));
        });
      });
    };

    beforeEach(async function () {
      if (engine === 'postgres') {
        await requirePostgres(this);
        db = await createTestDatabase();
      }
      const env: Record<string, string> = {
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '0',
        HIVE_SUPERVISION_MAX_RESTARTS: '3',
        HIVE_SUPERVISION_BACKOFF_INITIAL_MS: '50',
        HIVE_LOGGING_LEVEL: 'fatal', // the faults are on purpose
      };
      if (db !== undefined) env['HIVE_DATABASE_URL'] = db.url;
      stack = await hubStack(env, { counted, gated });
      api = new AgentsApi(stack.hive);
      ranOn.clear();
      gates.length = 0;
      aborted.length = 0;
    });

    afterEach(async () => {
      for (const open of gates.splice(0)) open();
      await stack?.close();
      await db?.drop();
      db = undefined;
    });

    const register = (name: string, executor: string, maxConcurrency = 4): Promise<AgentView> =>
      api.register({ name, executor, max_concurrency: maxConcurrency });
    const submit = (n: number): Promise<string[]> => submitMany(stack.hive, n);
    const completedAll = async (ids: string[]): Promise<void> =>
      void (await waitFor(
        async () =>
          (await Promise.all(ids.map((id) => stack.store.getTask(id)))).every((t) => t?.status === 'completed'),
        30_000,
        'every task to complete',
      ));
    const ranOnce = (ids: string[]): void => {
      for (const id of ids)
        assert.equal(ranOn.get(id)?.length, 1, `task ${id} ran ${ranOn.get(id)?.length ?? 0} times`);
    };

    it('restarts an agent whose row is refused with backoff, marks it failed past its intensity, and restarts it on request', async () => {
      const a = await register('a', 'counted');
      const b = await register('b', 'counted');
      let refusing = true;
      refuseRowOf(
        stack.store,
        () => a.id,
        () => refusing,
      );
      const ids: string[] = [];
      // Tasks keep ending on both agents, so both have stats to store every second.
      await waitFor(
        async () => {
          ids.push(...(await submit(40)));
          return (await api.get(a.id)).state === 'failed';
        },
        30_000,
        'agent a to fail',
      );
      const failed = await api.get(a.id);
      assert.ok((failed.restarts ?? 0) >= 3, `restarts: ${failed.restarts}`);
      const listed = await api.list({ state: 'failed' });
      assert.equal(listed.items.length, 0, 'the failed state is not stored while its row is refused');
      const all = await api.list({});
      assert.equal(all.items.find((x) => x.id === a.id)?.state, 'failed', '/api/agents shows it failed');
      const other = await api.get(b.id);
      assert.notEqual(other.state, 'failed');
      assert.equal(other.restarts, 0, 'the other agent was not touched');
      await completedAll(ids);
      ranOnce(ids);
      await waitFor(
        async () => ((await stack.store.getAgent(b.id))?.stats.tasks_completed ?? 0) > 0,
        5_000,
        "b's stats to be stored",
      );

      const later = await submit(30);
      await completedAll(later);
      ranOnce(later);
      assert.ok(
        later.every((id) => ranOn.get(id)?.[0] === b.id),
        'a failed agent takes no work',
      );
      await assert.rejects(
        async () => api.setPaused(a.id, true),
        /failed/,
        'a failed agent refuses changes until restarted',
      );

      refusing = false;
      const restarted = await api.restart(a.id);
      assert.notEqual(restarted.state, 'failed');
      assert.ok((restarted.restarts ?? 0) > (failed.restarts ?? 0));
      await api.setPaused(b.id, true);
      const again = await submit(20);
      await completedAll(again);
      ranOnce(again);
      assert.ok(
        again.every((id) => ranOn.get(id)?.[0] === a.id),
        'the restarted agent takes work again',
      );
      await waitFor(async () => (await stack.store.getAgent(a.id))?.state !== 'failed', 5_000, 'its row to be live');
    });

    it('crashes only the agent of a poisoned outcome in a batch; its neighbour keeps its stats', async () => {
      const a = await register('a', 'counted');
      const b = await register('b', 'counted');
      const good: AgentOutcome = { agentId: b.id, completed: 3, failed: 0, durationMsTotal: 30, results: [] };
      const poisoned = {
        agentId: a.id,
        completed: 1,
        failed: 0,
        durationMsTotal: 1,
        results: [{ required: null, success: true }],
      } as unknown as AgentOutcome;
      stack.hive.tell(stack.hive.modules.agent_management, { type: 'agent.outcomes', outcomes: [poisoned, good] });
      await waitFor(async () => (await api.get(a.id)).restarts === 1, 5_000, "a's actor to restart");
      await waitFor(
        async () => ((await stack.store.getAgent(b.id))?.stats.tasks_completed ?? 0) === 3,
        5_000,
        "b's stats from the same batch to be stored",
      );
      assert.notEqual((await api.get(a.id)).state, 'failed', 'one crash is restarted, not failed');
      const ids = await submit(20);
      await completedAll(ids);
      ranOnce(ids);
    });

    it("keeps the agents' actors through a reset of agent_management (their records read again), and respawns them after its restart", async () => {
      const a = await register('a', 'counted');
      await stack.store.updateAgent(a.id, { max_concurrency: 7 });
      await runModuleOp(stack.hive, 'bench', { op: 'reset', name: 'agent_management' });
      assert.equal((await api.get(a.id)).max_concurrency, 7, 'the reset read the stored record');
      const reset = stack.hive.status().find((m) => m.name === 'agent_management');
      assert.equal(reset?.crashes, 0, 'a reset finds the live actors instead of spawning them again');
      assert.equal((await api.get(a.id)).restarts, 0);
      await runModuleOp(stack.hive, 'bench', { op: 'restart', name: 'agent_management' });
      const view = await api.get(a.id);
      assert.equal(view.state, 'idle');
      const ids = await submit(20);
      await completedAll(ids);
      ranOnce(ids);
    });

    it('drains an agent: paused, and answered once its running tasks ended (or at timeout_ms)', async () => {
      const a = await register('a', 'gated', 2);
      const ids = await submit(2);
      await waitFor(() => gates.length === 2, 5_000, 'a to run two tasks');
      const early = await api.drain(a.id, { timeout_ms: 100 });
      assert.equal(early.drained, false);
      assert.equal(early.running_tasks, 2);
      assert.equal(early.paused, true);
      let settled = false;
      const drain = api.drain(a.id, { timeout_ms: 10_000 }).finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(settled, false, 'the drain waits for the running tasks');
      for (const open of gates.splice(0)) open();
      const done = await drain;
      assert.equal(done.drained, true);
      assert.equal(done.running_tasks, 0);
      await completedAll(ids);
      ranOnce(ids);
      await assert.rejects(async () => api.drain(a.id, { timeout_ms: -1 }), /timeout_ms/);
    });

    it("cancels an agent's work: its running tasks are aborted and run again on another agent", async () => {
      const a = await register('a', 'gated', 2);
      const ids = await submit(2);
      await waitFor(() => gates.length === 2, 5_000, 'a to run two tasks');
      await api.setPaused(a.id, true);
      const b = await register('b', 'counted');
      const cancelled = await api.cancelWork(a.id, { reason: 'moving off a' });
      assert.equal(cancelled.requeued, 2);
      await completedAll(ids);
      assert.deepEqual([...aborted].sort(), [...ids].sort(), "a's handlers saw the abort");
      for (const id of ids) assert.deepEqual(ranOn.get(id), [a.id, b.id]);
      const events = await stack.store.listTaskEvents(ids[0]!);
      assert.ok(
        events.some((e) => JSON.stringify(e).includes('moving off a')),
        'the reason is in the task history',
      );
    });
  });
}

agentSupervisionSuite('sqlite');
agentSupervisionSuite('postgres');
