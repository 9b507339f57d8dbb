/**
 * Workflows on a running hub of each store: a durable sleep with its
 * checkpoint, signals sent before and after the wait, an approval gate, a
 * wait timeout, fan-out to 100 children and fan-in of their results, each
 * child-failure policy, cancelling a tree, progress on /ws in order, a
 * schedule, and bad input.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { client, type Client } from '../helpers/http.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';
import { observer } from '../helpers/ws.js';
import { waitFor } from '../helpers/wait-for.js';
import { maxOverlap } from '../helpers/spans.js';

type Msg = Record<string, any>;

const CONFIG = `
[agents.executors.workflow]
module = "test/fixtures/handlers/workflow.mjs"
[agents.executors.research]
module = "examples/workflows/research.mjs"
`;

function workflowSuite(engine: 'sqlite' | 'postgres'): void {
  describe(`workflows on a running hub (${engine})`, function () {
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
      tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-workflows-'));
      const file = path.join(tmp, 'workflows.toml');
      writeFileSync(file, CONFIG);
      const env: Record<string, string> = {
        HIVE_DATABASE_DATA_DIR: tmp,
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '0',
      };
      if (db !== undefined) env['HIVE_DATABASE_URL'] = db.url;
      hub = await startHub(['--config', file], hubEnv(env));
      api = client(hub.port);
      for (let i = 0; i < 2; i++) {
        const r = await api.post('/api/agents', { name: `w${i}`, executor: 'workflow', max_concurrency: 50 });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
      const r = await api.post('/api/agents', {
        name: 'researcher',
        executor: 'research',
        max_concurrency: 4,
        capabilities: [{ name: 'research', proficiency: 1 }],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    });

    after(async () => {
      if (hub !== undefined) assert.equal(await hub.stop(), 0);
      if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
      await db?.drop();
    });

    const submit = async (body: Msg): Promise<Msg> => {
      const r = await api.post('/api/tasks', { title: 'wf', ...body });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.data;
    };
    const task = async (id: string): Promise<Msg> => (await api.get(`/api/tasks/${id}`)).body.data;
    const until = async (id: string, status: string, ms = 20_000): Promise<Msg> => {
      let last: Msg = {};
      await waitFor(async () => (last = await task(id)).status === status, ms, `task ${id} ${status}`);
      return last;
    };

    it("runs docs/workflows.md's research agent: plan, three sub-tasks, a person's approval, the report", async () => {
      const t = await submit({
        title: 'Report on solid-state batteries',
        payload: { topic: 'solid-state batteries' },
        required_capabilities: ['research'],
      });
      const waiting = await until(t.id, 'waiting', 30_000);
      await waitFor(async () => (await task(t.id)).wait_for?.signal === 'approval', 20_000, 'waiting for approval');
      const tree = (await api.get(`/api/tasks/${t.id}/tree`)).body.data.tree;
      assert.equal(tree.children.length, 3);
      assert.ok(tree.children.every((c: Msg) => c.status === 'completed'));
      const explained = (await api.get(`/api/tasks/${t.id}/explain`)).body.data;
      assert.equal(explained.code, 'WAITING_FOR_APPROVAL');
      assert.equal((await api.post(`/api/tasks/${t.id}/approve`, { reason: 'good' })).status, 200);
      const done = await until(t.id, 'completed');
      assert.match(
        done.result.report,
        /# solid-state batteries\n\n- what we know about solid-state batteries: state of the art/,
      );
      await waitFor(async () => (await task(t.id)).progress?.percent === 100, 5000, 'the last progress stored');
      void waiting;
    });

    it('sleeps durably: waiting holds no slot, and the next attempt gets its checkpoint at the right time', async () => {
      const t = await submit({ payload: { mode: 'sleep', ms: 1500 } });
      const waiting = await until(t.id, 'waiting');
      assert.deepEqual(waiting.checkpoint.step, 1);
      assert.equal(waiting.wait_for.kind, 'timer');
      const done = await until(t.id, 'completed');
      const late = done.result.woke_at - Date.parse(waiting.wake_at);
      assert.ok(late >= 0 && late < 1500, `woke ${late} ms after its time`);
      assert.equal(done.result.resume.reason, 'timer');
      assert.equal(done.attempts, 1, 'the wait is not an attempt');
      const kinds = done.events.map((e: Msg) => `${e.from_status}->${e.to_status}`);
      assert.ok(kinds.includes('running->waiting') && kinds.includes('waiting->pending'), kinds.join(' '));
    });

    it('a signal sent before the wait and one after; a signal to an ended task is refused', async () => {
      const early = await submit({
        payload: { mode: 'signal', signal: 'go' },
        run_at: new Date(Date.now() + 800).toISOString(),
      });
      const sent = await api.post(`/api/tasks/${early.id}/signal`, { name: 'go', payload: { early: true } });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const e = await until(early.id, 'completed');
      assert.deepEqual(e.result.resume.signal.payload, { early: true });

      const late = await submit({ payload: { mode: 'signal', signal: 'go' } });
      await until(late.id, 'waiting');
      const at = Date.now();
      await api.post(`/api/tasks/${late.id}/signal`, { name: 'go', payload: 'late' });
      const l = await until(late.id, 'completed');
      assert.equal(l.result.resume.signal.payload, 'late');
      assert.ok(l.result.woke_at - at < 2000, `resumed ${l.result.woke_at - at} ms after the signal`);

      const ended = await api.post(`/api/tasks/${late.id}/signal`, { name: 'go' });
      assert.equal(ended.status, 409);
      assert.equal(ended.body.error.code, 'INVALID_STATE');
      const bad = await api.post(`/api/tasks/${late.id}/signal`, { name: 'bad name' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.details.field, 'name');
      const reserved = await api.post(`/api/tasks/${late.id}/signal`, { name: 'approval' });
      assert.equal(reserved.status, 400);
    });

    it('an approval gate at submission: rejected fails it, approved runs it; a timeout follows the failure policy', async () => {
      const gated = await submit({ payload: { mode: 'none' }, wait_for: { approval: true } });
      assert.equal(gated.status, 'waiting');
      const r = await api.post(`/api/tasks/${gated.id}/reject`, { reason: 'not now' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const rejected = await task(gated.id);
      assert.equal(rejected.status, 'failed');
      assert.equal(rejected.error.code, 'APPROVAL_REJECTED');

      const agent = await submit({ payload: { mode: 'approval' } });
      await until(agent.id, 'waiting');
      assert.equal((await api.post(`/api/tasks/${agent.id}/approve`, { reason: 'fine' })).status, 200);
      const approved = await until(agent.id, 'completed');
      assert.equal(approved.result.approved.approved, true);
      assert.equal(approved.result.draft, 'report');

      const timed = await submit({ payload: { mode: 'signal', signal: 'never', timeout_ms: 300 }, max_attempts: 1 });
      const dead = await until(timed.id, 'dead');
      assert.equal(dead.error.code, 'WAIT_TIMEOUT');
    });

    it('fans out to 100 children and in with their results; a failed child per policy; a tree', async () => {
      const parent = await submit({ payload: { mode: 'fanout', n: 100 } });
      const done = await until(parent.id, 'completed', 60_000);
      assert.deepEqual(
        done.result.results.map((r: Msg) => r.i),
        Array.from({ length: 100 }, (_, i) => i),
      );
      const tree = (await api.get(`/api/tasks/${parent.id}/tree`)).body.data;
      assert.equal(tree.tree.children.length, 100);
      assert.ok(tree.tree.children.every((c: Msg) => c.status === 'completed'));

      const failing = await submit({ payload: { mode: 'fanout', n: 3, fail: [1], policy: 'fail' } });
      const f = await until(failing.id, 'failed');
      assert.equal(f.error.code, 'CHILD_FAILED');
      const ignoring = await submit({ payload: { mode: 'fanout', n: 3, fail: [1], policy: 'ignore' } });
      const g = await until(ignoring.id, 'completed');
      assert.deepEqual(g.result.statuses, ['completed', 'failed', 'completed']);
      const retrying = await submit({ payload: { mode: 'fanout', n: 2, fail: [0], policy: 'retry' } });
      const rr = await until(retrying.id, 'failed');
      assert.equal(rr.error.code, 'CHILD_FAILED', 'the child failed again after its retry');
      const kids = (await api.get(`/api/tasks/${retrying.id}/tree`)).body.data.tree.children;
      const retried = await task(kids[0].id);
      assert.ok(retried.events.some((e: Msg) => /retry policy/.test(JSON.stringify(e.detail))));
    });

    it('cancelling a parent cancels its children; a child of a finished parent is refused', async () => {
      const parent = await submit({ payload: { mode: 'none' }, wait_for: { signal: 'hold' } });
      const kids = await Promise.all(
        [0, 1, 2].map(() => submit({ parent_id: parent.id, payload: { mode: 'none' }, wait_for: { signal: 'hold' } })),
      );
      assert.equal((await api.post(`/api/tasks/${parent.id}/cancel`, { reason: 'stop' })).status, 200);
      for (const k of kids) assert.equal((await task(k.id)).status, 'cancelled');
      const late = await api.post('/api/tasks', { title: 'late', parent_id: parent.id });
      assert.equal(late.status, 409);
      assert.equal(late.body.error.details.field, 'parent_id');
      const missing = await api.post('/api/tasks', { title: 'x', parent_id: '00000000-0000-4000-8000-0000000000aa' });
      assert.equal(missing.status, 400);
      const cycle = await api.post('/api/tasks/bulk', {
        tasks: [
          { key: 'a', title: 'a', parent_id: 'b' },
          { key: 'b', title: 'b', parent_id: 'a' },
        ],
      });
      assert.equal(cycle.status, 400);
      assert.match(cycle.body.error.message, /cycle/);
    });

    it('streams 1,000 progress chunks to a /ws observer in order, and keeps the last ones', async () => {
      const obs = await observer(hub.port, ['tasks']);
      try {
        const t = await submit({ payload: { mode: 'progress', n: 1000 } });
        await until(t.id, 'completed');
        await waitFor(
          () => obs.events.filter((e) => e.type === 'task.progress' && e.data.task_id === t.id).length === 1000,
          10_000,
          'every chunk',
        );
        const chunks = obs.events.filter((e) => e.type === 'task.progress' && e.data.task_id === t.id);
        assert.deepEqual(
          chunks.map((c) => c.data.chunk),
          Array.from({ length: 1000 }, (_, i) => `c${i}`),
        );
        await waitFor(async () => (await task(t.id)).progress?.percent === 100, 5000, 'the latest progress stored');
        const stored = (await api.get(`/api/tasks/${t.id}/progress?limit=1000`)).body.data.progress;
        assert.equal(stored.length, 100, 'the last [workflows] progress_keep records');
        assert.equal(stored.at(-1).chunk, 'c999');
      } finally {
        obs.ws.close();
      }
    });

    it('a queue_one schedule runs one at a time, keeps one queued and skips the rest', async () => {
      const r = await api.post('/api/schedules', {
        name: `q-${engine}`,
        interval_ms: 1000,
        overlap: 'queue_one',
        task: { title: 'long run', payload: { mode: 'busy', ms: 2500 } },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const s = r.body.data;
      await new Promise((res) => setTimeout(res, 4500));
      const paused = (await api.post(`/api/schedules/${s.id}/pause`)).body.data;
      assert.ok(paused.skipped >= 1, `${paused.skipped} skipped while one ran and one waited`);
      const all = (await api.get('/api/tasks?order=desc&limit=100')).body.data.tasks.filter(
        (t: Msg) => t.schedule_id === s.id,
      );
      assert.ok(all.length >= 2 && all.length <= 3, `${all.length} runs`);
      const queued = all.find((t: Msg) => t.status === 'pending');
      if (queued !== undefined)
        assert.equal((await api.get(`/api/tasks/${queued.id}/explain`)).body.data.code, 'CONCURRENCY_LIMIT');
      await waitFor(
        async () => (await Promise.all(all.map((t: Msg) => task(t.id)))).every((t) => t.status === 'completed'),
        20_000,
        'the runs to finish',
      );
      const spans = (await Promise.all(all.map((t: Msg) => task(t.id)))).map(
        (t) => [Date.parse(t.started_at), Date.parse(t.completed_at)] as const,
      );
      assert.equal(maxOverlap(spans), 1, 'never two runs at once');
      await api.call('DELETE', `/api/schedules/${s.id}`);
    });

    it('a schedule every second fires one task per tick; pause, trigger, delete; bad input', async () => {
      const r = await api.post('/api/schedules', {
        name: `s-${engine}`,
        interval_ms: 1000,
        task: { title: 'scheduled', payload: { mode: 'none' } },
        overlap: 'allow',
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const s = r.body.data;
      assert.ok(s.next_run_at);
      await new Promise((res) => setTimeout(res, 3500));
      const paused = (await api.post(`/api/schedules/${s.id}/pause`)).body.data;
      assert.equal(paused.paused, true);
      assert.ok(paused.fired >= 3 && paused.fired <= 5, `${paused.fired} fired`);
      const trig = (await api.post(`/api/schedules/${s.id}/trigger`)).body.data;
      assert.ok(trig.task.id);
      const list = (await api.get('/api/schedules')).body.data.schedules;
      assert.ok(list.some((x: Msg) => x.id === s.id));
      assert.equal((await api.call('DELETE', `/api/schedules/${s.id}`)).status, 200);
      assert.equal((await api.get(`/api/schedules/${s.id}`)).status, 404);
      const bad = await api.post('/api/schedules', { name: 'bad', cron: '61 * * * *', task: { title: 'x' } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.details.field, 'cron');
      const badTask = await api.post('/api/schedules', { name: 'bad', cron: '* * * * *', task: { priority: 'x' } });
      assert.equal(badTask.body.error.details.field, 'task.title');
      const tz = await api.post('/api/schedules', {
        name: 'bad',
        cron: '* * * * *',
        timezone: 'Mars/Base',
        task: { title: 'x' },
      });
      assert.equal(tz.body.error.details.field, 'timezone');
    });
  });
}

workflowSuite('sqlite');
workflowSuite('postgres');
