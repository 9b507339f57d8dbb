/** The REST API end to end on the real CLI: throughput run, restarts under load, lifecycle routes, bad input. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { client, type Client } from '../helpers/http.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait-for.js';

async function submitMany(api: Client, n: number, make: (i: number) => unknown, workers = 8): Promise<string[]> {
  const ids: string[] = new Array<string>(n);
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = w; i < n; i += workers) {
        const r = await api.post('/api/tasks', make(i));
        assert.equal(r.status, 201, JSON.stringify(r.body));
        ids[i] = r.body.data.id;
      }
    }),
  );
  return ids;
}

async function allTasks(api: Client, status?: string): Promise<any[]> {
  const out: any[] = [];
  for (let offset = 0; ; offset += 1000) {
    const r = await api.get(`/api/tasks?limit=1000&offset=${offset}${status ? `&status=${status}` : ''}`);
    out.push(...r.body.data.tasks);
    if (r.body.data.tasks.length < 1000) return out;
  }
}

function engineSuite(engine: 'sqlite' | 'postgres'): void {
  describe(`REST API end to end (${engine})`, function () {
    this.timeout(120_000);
    let tmp: string;
    let db: TestDatabase | undefined;
    let hub: RunningHub;
    let api: Client;

    before(async function () {
      if (engine === 'postgres') {
        await requirePostgres(this);
        db = await createTestDatabase();
      }
      tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-api-'));
      const env: Record<string, string> = {
        HIVE_DATABASE_DATA_DIR: tmp,
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '4',
      };
      if (db !== undefined) env['HIVE_DATABASE_URL'] = db.url;
      hub = await startHub(['--config', 'test/fixtures/executors.toml'], hubEnv(env));
      api = client(hub.port);
    });

    after(async () => {
      if (hub !== undefined) assert.equal(await hub.stop(), 0);
      await db?.drop();
      if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
    });

    it('runs 1,000 tasks on 4 echo agents: all complete, each result retrievable, /metrics agrees', async () => {
      const ids = await submitMany(api, 1000, (i) => ({ title: `bulk-${i}`, payload: { i } }));
      await waitFor(
        async () => (await api.get('/metrics')).body.data.current_metrics.task_management.by_status.completed >= 1000,
        60_000,
        '1,000 completions',
      );
      const tm = (await api.get('/metrics')).body.data.current_metrics.task_management;
      assert.equal(tm.by_status.completed, 1000);
      assert.equal(tm.totals.completed, 1000);
      assert.equal(tm.since_start.submitted, 1000);
      assert.equal(tm.queue_depth, 0);
      assert.ok(tm.runner.claimed + tm.runner.handoffs >= 1000);
      assert.equal(tm.runner.stale_finishes, 0);
      await waitFor(
        async () =>
          (await api.get('/metrics')).body.data.current_metrics.agent_management.tasks_completed_since_start === 1000,
        5000,
        'agent stats',
      );
      const agents = (await api.get('/api/agents')).body.data.agents;
      await waitFor(
        async () =>
          (await api.get('/api/agents')).body.data.agents.reduce(
            (n: number, a: any) => n + a.stats.tasks_completed,
            0,
          ) === 1000,
        5000,
        'agent stats to be flushed',
      );
      assert.equal(agents.length, 4);
      const hive = (await api.get('/api/hive/status')).body.data.metrics;
      assert.equal(hive.completed_tasks, 1000);
      for (const i of [0, 1, 499, 998, 999]) {
        const t = (await api.get(`/api/tasks/${ids[i]}`)).body.data;
        assert.equal(t.status, 'completed');
        assert.deepEqual(t.result, { i });
        assert.deepEqual(
          t.events.map((e: any) => e.to_status),
          ['pending', 'assigned', 'running', 'completed'],
        );
      }
      const newest = (await api.get('/api/tasks?order=desc&limit=1')).body.data.tasks[0];
      const oldest = (await api.get('/api/tasks?order=asc&limit=1')).body.data.tasks[0];
      assert.ok(newest.created_at >= oldest.created_at && newest.id !== oldest.id);
      const completed = await allTasks(api, 'completed');
      assert.equal(new Set(completed.map((t) => t.id)).size, 1000);
      for (const t of completed) assert.deepEqual(t.result, { i: ids.indexOf(t.id) });
    });

    it('loses no task when task_management and agent_management restart while tasks run', async () => {
      const before = (await api.get('/metrics')).body.data.current_metrics.task_management.by_status.completed;
      const submitting = submitMany(
        api,
        200,
        (i) => ({ title: `restart-${i}`, payload: { ms: 5 + (i % 4) * 5 }, type: 'sleep' }),
        4,
      );
      // Swap the pool to sleep executors so that tasks are in flight across restarts.
      const sleeper = await api.post('/api/agents', {
        name: 'sleeper',
        executor: 'sleep',
        capabilities: ['general'],
        max_concurrency: 4,
      });
      assert.equal(sleeper.status, 201);
      let restarts = 0;
      while (restarts < 6) {
        const name = restarts % 2 === 0 ? 'task_management' : 'agent_management';
        const r = await api.post(`/api/modules/${name}/restart`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        restarts++;
        await new Promise((res) => setTimeout(res, 30));
      }
      const ids = await submitting;
      await waitFor(
        async () =>
          (await api.get('/metrics')).body.data.current_metrics.task_management.by_status.completed >= before + 200,
        60_000,
        'the 200 tasks to complete',
      );
      for (const id of ids) {
        const t = (await api.get(`/api/tasks/${id}`)).body.data;
        assert.equal(t.status, 'completed', id);
        assert.equal(t.events.filter((e: any) => e.to_status === 'completed').length, 1, `${id} completed once`);
      }
      const modules = (await api.get('/api/modules')).body.data.modules;
      assert.ok(modules.every((m: any) => m.status === 'running'));
      assert.equal((await api.del(`/api/agents/${sleeper.body.data.id}`)).status, 200);
    });

    it('cancels a running task (its handler is aborted) and retries a failed one', async () => {
      const slow = await api.post('/api/agents', { name: 'slow', executor: 'sleep', capabilities: ['slow'] });
      const t = await api.post('/api/tasks', {
        title: 'long sleep',
        required_capabilities: ['slow'],
        payload: { ms: 60_000 },
      });
      await waitFor(
        async () => (await api.get(`/api/tasks/${t.body.data.id}`)).body.data.status === 'running',
        10_000,
        'the sleep to start',
      );
      // run_at keeps the second task pending (not claimed ahead into the busy agent's deque).
      const busy = await api.post('/api/tasks', {
        title: 'second',
        required_capabilities: ['slow'],
        payload: { ms: 1 },
        run_at: new Date(Date.now() + 3_600_000).toISOString(),
      });
      const refused = await api.post('/api/tasks/assign', { task_id: busy.body.data.id, agent_id: slow.body.data.id });
      assert.equal(refused.status, 409);
      assert.equal(refused.body.error.code, 'AGENT_BUSY');
      const cancelled = await api.post(`/api/tasks/${t.body.data.id}/cancel`, {
        reason: 'operator changed their mind',
      });
      assert.equal(cancelled.status, 200);
      assert.equal(cancelled.body.data.status, 'cancelled');
      // The slot frees at once (the handler honoured its signal), so the second task can be handed over.
      await waitFor(
        async () =>
          (await api.post('/api/tasks/assign', { task_id: busy.body.data.id, agent_id: slow.body.data.id })).status ===
          200,
        10_000,
        'the slot to free',
      );
      await waitFor(
        async () => (await api.get(`/api/tasks/${busy.body.data.id}`)).body.data.status === 'completed',
        10_000,
        'the second task',
      );
      const again = await api.post(`/api/tasks/${t.body.data.id}/cancel`);
      assert.equal(again.body.error.code, 'INVALID_STATE');
      await api.del(`/api/agents/${slow.body.data.id}`);

      const failer = await api.post('/api/agents', { name: 'failer', executor: 'fail', capabilities: ['doomed'] });
      const f = await api.post('/api/tasks', {
        title: 'will fail',
        required_capabilities: ['doomed'],
        payload: { message: 'nope', retryable: false },
      });
      await waitFor(
        async () => (await api.get(`/api/tasks/${f.body.data.id}`)).body.data.status === 'failed',
        10_000,
        'the failure',
      );
      const failed = (await api.get(`/api/tasks/${f.body.data.id}`)).body.data;
      assert.deepEqual(failed.error, { code: 'TASK_FAILED', message: 'nope', retryable: false });
      assert.equal(failed.attempts, 1, 'a permanent failure is not retried');
      await api.del(`/api/agents/${failer.body.data.id}`);
      const retried = await api.post(`/api/tasks/${f.body.data.id}/retry`);
      assert.equal(retried.body.data.status, 'pending');
      assert.equal(retried.body.data.error, null);
      const notFailed = await api.post(`/api/tasks/${busy.body.data.id}/retry`);
      assert.equal(notFailed.body.error.code, 'INVALID_STATE');
      await api.post(`/api/tasks/${f.body.data.id}/cancel`);
    });

    it('runs a user handler module named in [agents.executors], and enforces timeout_ms', async () => {
      const a = await api.post('/api/agents', { name: 'upper', executor: 'upper', capabilities: ['shout'] });
      assert.equal(a.status, 201, JSON.stringify(a.body));
      const t = await api.post('/api/tasks', {
        title: 'shout',
        required_capabilities: ['shout'],
        payload: { text: 'hello' },
      });
      await waitFor(
        async () => (await api.get(`/api/tasks/${t.body.data.id}`)).body.data.status === 'completed',
        10_000,
        'the user handler',
      );
      assert.deepEqual((await api.get(`/api/tasks/${t.body.data.id}`)).body.data.result, {
        text: 'HELLO',
        agent: 'upper',
        attempt: 1,
      });
      await api.del(`/api/agents/${a.body.data.id}`);
      const s = await api.post('/api/agents', { name: 'slowpoke', executor: 'sleep', capabilities: ['slowpoke'] });
      const late = await api.post('/api/tasks', {
        title: 'too slow',
        required_capabilities: ['slowpoke'],
        payload: { ms: 10_000 },
        timeout_ms: 50,
        max_attempts: 1,
      });
      await waitFor(
        async () => (await api.get(`/api/tasks/${late.body.data.id}`)).body.data.status === 'dead',
        10_000,
        'the timeout',
      );
      assert.equal((await api.get(`/api/tasks/${late.body.data.id}`)).body.data.error.code, 'TASK_TIMEOUT');
      await api.del(`/api/agents/${s.body.data.id}`);
    });

    it('does not let tasks no agent can take block the ones behind them', async () => {
      const blockers = await api.post('/api/tasks/bulk', {
        tasks: Array.from({ length: 600 }, (_, i) => ({
          title: `blocker-${i}`,
          priority: 'critical',
          required_capabilities: ['unobtainium'],
        })),
      });
      assert.equal(blockers.status, 201);
      const t = await api.post('/api/tasks', { title: 'behind the blockers', priority: 'low', payload: 'through' });
      await waitFor(
        async () => (await api.get(`/api/tasks/${t.body.data.id}`)).body.data.status === 'completed',
        20_000,
        'the task behind 600 unmatched ones',
      );
      const tm = (await api.get('/metrics')).body.data.current_metrics.task_management;
      assert.equal(tm.runner.released, 0, 'tasks no agent here can take are never claimed');
      for (const b of blockers.body.data.tasks) assert.equal((await api.post(`/api/tasks/${b.id}/cancel`)).status, 200);
    });

    it('creates one task for 20 concurrent submits with one Idempotency-Key', async () => {
      const headers = { 'Idempotency-Key': `race-${engine}` };
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => api.post('/api/tasks', { title: 'raced' }, headers)),
      );
      assert.equal(answers.filter((a) => a.status === 201).length, 1);
      assert.equal(answers.filter((a) => a.status === 200).length, 19);
      assert.equal(new Set(answers.map((a) => a.body.data.id)).size, 1);
    });

    it('submits a bulk whose items depend on each other by key, refusing cycles and unknown keys', async () => {
      const cyc = await api.post('/api/tasks/bulk', {
        tasks: [
          { key: 'a', title: 'a', depends_on: ['b'] },
          { key: 'b', title: 'b', depends_on: ['a'] },
        ],
      });
      assert.equal(cyc.status, 400);
      assert.match(cyc.body.error.message, /dependency cycle: (a -> b -> a|b -> a -> b)/);
      const unknown = await api.post('/api/tasks/bulk', { tasks: [{ title: 'a', depends_on: ['nobody'] }] });
      assert.equal(unknown.body.error.details.field, 'tasks[0].depends_on[0]');
      const missing = await api.post('/api/tasks', {
        title: 'x',
        depends_on: ['2b1e7c4e-3f7e-4c8e-9d43-000000000000'],
      });
      assert.equal(missing.status, 400);
      assert.match(missing.body.error.message, /^depends_on\[0\]: no task with id/);
      const ok = await api.post('/api/tasks/bulk', {
        tasks: [
          { key: 'report', title: 'report', depends_on: ['fetch', 'clean'] },
          { key: 'fetch', title: 'fetch' },
          { key: 'clean', title: 'clean', depends_on: ['fetch'] },
        ],
      });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      const [report, fetch, clean] = ok.body.data.tasks;
      assert.deepEqual(
        [report.title, fetch.title, clean.title],
        ['report', 'fetch', 'clean'],
        'answered in request order',
      );
      await waitFor(
        async () => (await api.get(`/api/tasks/${report.id}`)).body.data.status === 'completed',
        10_000,
        'the chain',
      );
      const r = (await api.get(`/api/tasks/${report.id}`)).body.data;
      assert.deepEqual(r.depends_on.sort(), [fetch.id, clean.id].sort());
      const c = (await api.get(`/api/tasks/${clean.id}`)).body.data;
      assert.ok(c.completed_at <= r.started_at);
    });

    it('redrives dead tasks in bulk', async () => {
      const f = await api.post('/api/agents', { name: 'dead-maker', executor: 'fail', capabilities: ['deadly'] });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++)
        ids.push(
          (
            await api.post('/api/tasks', {
              title: `d${i}`,
              required_capabilities: ['deadly'],
              payload: { retryable: true },
              max_attempts: 1,
            })
          ).body.data.id,
        );
      await waitFor(
        async () => (await api.get('/api/tasks?status=dead&capability=deadly')).body.data.total === 3,
        10_000,
        'three dead tasks',
      );
      await api.del(`/api/agents/${f.body.data.id}`);
      const r = await api.post('/api/tasks/redrive', { status: 'dead', ids });
      assert.equal(r.status, 200);
      assert.equal(r.body.data.redriven, 3);
      assert.equal((await api.get('/api/tasks?status=dead&capability=deadly')).body.data.total, 0);
      const bad = await api.post('/api/tasks/redrive', { status: 'completed' });
      assert.equal(bad.body.error.details.field, 'status');
      for (const id of ids) await api.post(`/api/tasks/${id}/cancel`);
    });

    it('honours Idempotency-Key: the same key returns the original task with 200', async () => {
      const headers = { 'Idempotency-Key': `key-${engine}` };
      const first = await api.post('/api/tasks', { title: 'once' }, headers);
      const second = await api.post('/api/tasks', { title: 'once' }, headers);
      assert.equal(first.status, 201);
      assert.equal(second.status, 200);
      assert.equal(second.body.data.id, first.body.data.id);
      const bulk = await api.post(
        '/api/tasks/bulk',
        { tasks: [{ title: 'a' }, { title: 'b' }] },
        { 'Idempotency-Key': `bulk-${engine}` },
      );
      assert.equal(bulk.status, 201);
      assert.equal(bulk.body.data.created, 2);
      const replay = await api.post(
        '/api/tasks/bulk',
        { tasks: [{ title: 'a' }, { title: 'b' }] },
        { 'Idempotency-Key': `bulk-${engine}` },
      );
      assert.equal(replay.status, 200);
      assert.equal(replay.body.data.deduplicated, 2);
      assert.deepEqual(
        replay.body.data.tasks.map((t: any) => t.id),
        bulk.body.data.tasks.map((t: any) => t.id),
      );
    });

    it('removing an agent requeues what it was running, and another agent completes it', async () => {
      const a = await api.post('/api/agents', { name: 'doomed-sleeper', executor: 'sleep', capabilities: ['nap'] });
      const t = await api.post('/api/tasks', { title: 'nap', required_capabilities: ['nap'], payload: { ms: 60_000 } });
      await waitFor(
        async () => (await api.get(`/api/tasks/${t.body.data.id}`)).body.data.status === 'running',
        10_000,
        'the nap to start',
      );
      const removed = await api.del(`/api/agents/${a.body.data.id}`);
      assert.equal(removed.status, 200);
      assert.equal((await api.get(`/api/agents/${a.body.data.id}`)).body.error.code, 'AGENT_NOT_FOUND');
      await waitFor(
        async () => (await api.get(`/api/tasks/${t.body.data.id}`)).body.data.status === 'pending',
        10_000,
        'the task to be requeued',
      );
      const b = await api.post('/api/agents', { name: 'quick-sleeper', executor: 'echo', capabilities: ['nap'] });
      await waitFor(
        async () => (await api.get(`/api/tasks/${t.body.data.id}`)).body.data.status === 'completed',
        10_000,
        'the requeued nap',
      );
      await api.del(`/api/agents/${b.body.data.id}`);
    });
  });
}

engineSuite('sqlite');
engineSuite('postgres');
