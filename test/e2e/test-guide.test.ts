/**
 * The troubleshooting guide's HTTP checks, run against the real CLI with the
 * guide's own curl | jq commands, on SQLite and on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { client, sh, type Client } from '../helpers/http.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait-for.js';

function guideSuite(engine: 'sqlite' | 'postgres'): void {
  describe(`the troubleshooting guide's HTTP checks (${engine})`, function () {
    this.timeout(60_000);
    let tmp: string;
    let db: TestDatabase | undefined;
    let hub: RunningHub;
    let api: Client;
    let url: string;
    const jq = (pathAndQuery: string, filter: string, method = 'GET'): Promise<string> =>
      sh(`curl -s -X ${method} ${url}${pathAndQuery} | jq -c '${filter}'`);
    const jqLines = async (pathAndQuery: string, filter: string): Promise<any[]> =>
      (await jq(pathAndQuery, filter))
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l));

    before(async function () {
      if (engine === 'postgres') {
        await requirePostgres(this);
        db = await createTestDatabase();
      }
      tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-guide-'));
      const env: Record<string, string> = {
        HIVE_DATABASE_DATA_DIR: tmp,
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '4',
      };
      if (db !== undefined) env['HIVE_DATABASE_URL'] = db.url;
      hub = await startHub([], hubEnv(env));
      api = client(hub.port);
      url = `http://localhost:${hub.port}`;
    });

    after(async () => {
      if (hub !== undefined) assert.equal(await hub.stop(), 0);
      await db?.drop();
      if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
    });

    it('health check verification: /health, ?detailed=true and .data.current_metrics', async () => {
      const health = JSON.parse(await jq('/health', '.'));
      assert.equal(health.data.status, 'healthy');
      assert.equal(typeof health.data.uptime_seconds, 'number');
      const detailed = JSON.parse(await sh(`curl -s "${url}/health?detailed=true" | jq -c .`));
      for (const check of [
        'database',
        'memory',
        'event_loop',
        'queue',
        'module_agent_management',
        'module_task_management',
        'module_swarm_coordinator',
      ]) {
        assert.equal(detailed.data.checks[check].status, 'healthy', check);
      }
      assert.equal(detailed.data.checks.database.engine, engine);
      const current = JSON.parse(await jq('/metrics', '.data.current_metrics'));
      for (const k of ['system', 'agent_management', 'task_management', 'database', 'websocket', 'neural'])
        assert.ok(current[k], k);
      assert.ok(current.system.memory.rss_mb > 10);
      assert.ok(current.system.load_average.length === 3);
    });

    it('agent coordination: agents, tasks, metrics sections and hive status', async () => {
      const agents = await jqLines('/api/agents', '.data.agents[] | {id, name, state, capabilities}');
      assert.equal(agents.length, 4);
      for (const a of agents) {
        assert.deepEqual(Object.keys(a), ['id', 'name', 'state', 'capabilities']);
        assert.deepEqual(a.capabilities, [{ name: 'general', proficiency: 1 }]);
      }
      assert.equal((await jq('/api/agents', '.data.agents | length')).trim(), '4');
      const submitted = await api.post('/api/tasks', { title: 'guide task', payload: { hello: 'world' } });
      assert.equal(submitted.status, 201);
      await waitFor(
        async () => (await api.get(`/api/tasks/${submitted.body.data.id}`)).body.data.status === 'completed',
        10_000,
        'the task to complete',
      );
      const tasks = await jqLines('/api/tasks', '.data.tasks[] | {id, status, assigned_agent}');
      const mine = tasks.find((t) => t.id === submitted.body.data.id);
      assert.equal(mine.status, 'completed');
      assert.ok(agents.some((a) => a.id === mine.assigned_agent));
      const am = JSON.parse(await jq('/metrics', '.data.current_metrics.agent_management'));
      assert.equal(am.total, 4);
      assert.equal(am.tasks_completed_since_start, 1);
      const tm = JSON.parse(await jq('/metrics', '.data.current_metrics.task_management'));
      assert.equal(tm.totals.completed, 1);
      assert.equal(tm.queue_depth, 0);
      assert.ok('work_stealing' in tm.runner);
      const database = JSON.parse(await jq('/metrics', '.data.current_metrics.database'));
      assert.equal(database.engine, engine);
      assert.deepEqual(Object.keys(database.pool).sort(), ['idle', 'total', 'waiting']);
      assert.ok(database.queries.queries > 0);
      const websocket = JSON.parse(await jq('/metrics', '.data.current_metrics.websocket'));
      assert.equal(websocket.connections, 0);
      const metrics = JSON.parse(await jq('/api/hive/status', '.data.metrics'));
      assert.equal(metrics.total_agents, 4);
      assert.equal(metrics.completed_tasks, 1);
      assert.equal(metrics.success_rate, 1);
    });

    it('capability matching: pending tasks show what they require; manual assignment refuses clearly, then works', async () => {
      const t = await api.post('/api/tasks', {
        title: 'needs a gpu',
        required_capabilities: [{ name: 'gpu', min_proficiency: 0.5 }],
      });
      const required = await jqLines('/api/tasks/pending', '.data.tasks[].required_capabilities');
      assert.deepEqual(required, [[{ name: 'gpu', min_proficiency: 0.5 }]]);
      // The guide's literal placeholders are refused, naming the field.
      const placeholder = JSON.parse(
        await sh(
          `curl -s -X POST ${url}/api/tasks/assign -H "Content-Type: application/json" -d '{"task_id": "task-uuid", "agent_id": "agent-uuid"}'`,
        ),
      );
      assert.equal(placeholder.error.code, 'VALIDATION_FAILED');
      assert.match(placeholder.error.message, /^task_id: /);
      const [echo] = await jqLines('/api/agents', '.data.agents[0] | {id}');
      const mismatch = await api.post('/api/tasks/assign', { task_id: t.body.data.id, agent_id: echo.id });
      assert.equal(mismatch.status, 422);
      assert.equal(mismatch.body.error.code, 'CAPABILITY_MISMATCH');
      assert.match(mismatch.body.error.message, /requires capability "gpu"/);
      const gpu = await api.post('/api/agents', { name: 'gpu-worker', capabilities: ['gpu:0.4'], executor: 'echo' });
      assert.equal(gpu.status, 201);
      // Proficiency 0.4 < 0.5: still refused, and automatic dispatch leaves the task pending too.
      assert.equal(
        (await api.post('/api/tasks/assign', { task_id: t.body.data.id, agent_id: gpu.body.data.id })).body.error.code,
        'CAPABILITY_MISMATCH',
      );
      assert.equal((await api.post(`/api/agents/${gpu.body.data.id}/pause`)).body.data.paused, true);
      await api.patch(`/api/agents/${gpu.body.data.id}`, { capabilities: ['gpu:0.9'] });
      await api.post('/api/tasks/bulk', { tasks: [{ title: 'filler' }] }); // a dispatch round happens: the paused agent gets nothing
      assert.equal((await api.get(`/api/tasks/${t.body.data.id}`)).body.data.status, 'pending');
      const paused = await api.post('/api/tasks/assign', { task_id: t.body.data.id, agent_id: gpu.body.data.id });
      assert.equal(paused.status, 409);
      assert.equal(paused.body.error.code, 'AGENT_PAUSED');
      // Resuming makes the distributor hand the task over by itself, or the manual assignment does.
      await api.post(`/api/agents/${gpu.body.data.id}/resume`);
      await waitFor(
        async () => (await api.get(`/api/tasks/${t.body.data.id}`)).body.data.status === 'completed',
        10_000,
        'the gpu task to complete',
      );
      const done = (await api.get(`/api/tasks/${t.body.data.id}`)).body.data;
      assert.equal(done.assigned_agent, gpu.body.data.id);
      assert.deepEqual(
        done.events.map((e: any) => e.to_status),
        ['pending', 'assigned', 'running', 'completed'],
      );
    });

    it('manual assignment hands a pending task to the agent named', async () => {
      const a = await api.post('/api/agents', {
        name: 'only-translation',
        capabilities: ['translation'],
        executor: 'echo',
      });
      const t = await api.post('/api/tasks', {
        title: 'translate',
        required_capabilities: ['translation'],
        run_at: new Date(Date.now() + 3_600_000).toISOString(),
        payload: 7,
      });
      // run_at keeps the distributor away from it; an operator can still force it.
      const assigned = await api.post('/api/tasks/assign', { task_id: t.body.data.id, agent_id: a.body.data.id });
      assert.equal(assigned.status, 200, JSON.stringify(assigned.body));
      assert.equal(assigned.body.data.status, 'assigned');
      await waitFor(
        async () => (await api.get(`/api/tasks/${t.body.data.id}`)).body.data.status === 'completed',
        10_000,
        'the assigned task to complete',
      );
      assert.equal((await api.get(`/api/tasks/${t.body.data.id}`)).body.data.result, 7);
      const again = await api.post('/api/tasks/assign', { task_id: t.body.data.id, agent_id: a.body.data.id });
      assert.equal(again.body.error.code, 'INVALID_STATE');
    });

    it('restart agent management and reset the task distributor, as the guide does', async () => {
      const restarted = JSON.parse(await sh(`curl -s -X POST ${url}/api/modules/agent_management/restart`));
      assert.equal(restarted.success, true);
      assert.equal(restarted.data.status, 'running');
      assert.equal(restarted.data.restarts, 1);
      const reset = JSON.parse(await sh(`curl -s -X POST ${url}/api/modules/task_management/reset`));
      assert.equal(reset.success, true);
      assert.equal(reset.data.action, 'reset');
      assert.equal((await jq('/api/agents', '.data.agents | length')).trim(), '6');
      const t = await api.post('/api/tasks', { title: 'after restart', payload: 'still works' });
      await waitFor(
        async () => (await api.get(`/api/tasks/${t.body.data.id}`)).body.data.status === 'completed',
        10_000,
        'a task after the restart',
      );
    });

    it("neural processing: the guide's status, analyze, restart and clear-cache commands", async () => {
      const status = JSON.parse(await sh(`curl -s ${url}/api/modules/neural/status`));
      assert.equal(status.success, true);
      assert.equal(status.data.backend, 'cpu');
      const analyze = JSON.parse(
        await sh(
          `curl -s -X POST ${url}/api/neural/analyze -H "Content-Type: application/json" -d '{"text": "test input"}'`,
        ),
      );
      assert.equal(analyze.success, true);
      assert.equal(analyze.data.capabilities.length, 7);
      assert.equal(analyze.data.model.name, 'task-text');
      const restart = JSON.parse(await sh(`curl -s -X POST ${url}/api/modules/neural/restart`));
      assert.equal(restart.data.action, 'restarted');
      const cleared = JSON.parse(await sh(`curl -s -X POST ${url}/api/modules/neural/clear-cache`));
      assert.equal(cleared.data.action, 'cache_cleared');
      assert.equal((await api.get('/api/modules/neural/status')).body.data.cache.size, 0);
    });

    it('/metrics/prometheus serves Node and hive_* metrics as Prometheus text', async () => {
      const r = await api.get('/metrics/prometheus');
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
      assert.match(r.body as string, /^process_cpu_user_seconds_total /m);
      assert.match(r.body as string, /^hive_task_events_total\{type="task.completed"\} \d+/m);
      assert.match(
        r.body as string,
        /^hive_http_requests_total\{method="GET",route="\/api\/agents",status="200"\} \d+/m,
      );
    });
  });
}

guideSuite('sqlite');
guideSuite('postgres');
