/**
 * "Why is it still pending?": GET /api/tasks/:id/explain and gRPC ExplainTask
 * give the same code and sentence for each cause a task waits on, on a running
 * hub of each store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { hiveProto } from '../../src/grpc/proto.js';
import { HiveClient } from '../../src/grpc/client/index.js';
import { hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { client, type Client } from '../helpers/http.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait-for.js';

type Msg = Record<string, unknown>;

function explainSuite(engine: 'sqlite' | 'postgres'): void {
  describe(`why a task is not running (${engine})`, function () {
    this.timeout(90_000);
    let tmp: string;
    let db: TestDatabase | undefined;
    let hub: RunningHub;
    let api: Client;
    let hive: grpc.Client;
    let grpcPort: string;

    before(async function () {
      if (engine === 'postgres') {
        await requirePostgres(this);
        db = await createTestDatabase();
      }
      tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-explain-'));
      const env: Record<string, string> = {
        HIVE_DATABASE_DATA_DIR: tmp,
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '0',
        HIVE_TASKS_BACKOFF_INITIAL_MS: '600000',
        HIVE_TASKS_BACKOFF_MAX_MS: '600000',
        HIVE_TASKS_BACKOFF_JITTER: '0',
      };
      if (db !== undefined) env['HIVE_DATABASE_URL'] = db.url;
      hub = await startHub([], hubEnv(env));
      api = client(hub.port);
      const m = /"grpc_port":(\d+)/.exec(hub.output());
      assert.ok(m, 'the hub logs its gRPC port');
      grpcPort = m[1]!;
      hive = new (hiveProto().HiveServiceClient)(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
    });

    after(async () => {
      hive?.close();
      if (hub !== undefined) assert.equal(await hub.stop(), 0);
      if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
      await db?.drop();
    });

    const submit = async (body: Msg): Promise<string> => {
      const r = await api.post('/api/tasks', { title: 't', ...body });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.data.id as string;
    };
    const agent = async (body: Msg): Promise<string> => {
      const r = await api.post('/api/agents', body);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.data.id as string;
    };
    const grpcExplain = (id: string): Promise<Msg> =>
      new Promise((resolve, reject) =>
        (hive as unknown as Record<string, (r: Msg, cb: (e: Error | null, v: Msg) => void) => void>)['ExplainTask']!(
          { id },
          (err, v) => (err ? reject(err) : resolve(v)),
        ),
      );
    /** The explanation over REST, checked against gRPC's. */
    const explain = async (id: string): Promise<{ code: string; message: string; details: Msg }> => {
      const r = await api.get(`/api/tasks/${id}/explain`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const g = await grpcExplain(id);
      assert.equal(g['code'], r.body.data.code);
      assert.equal(g['message'], r.body.data.message);
      assert.deepEqual(JSON.parse(String(g['details_json'])), r.body.data.details);
      return r.body.data;
    };

    it('says, for each cause, why the task waits (the same on REST and gRPC)', async () => {
      const nobody = await submit({ required_capabilities: [{ name: 'translation', min_proficiency: 0.5 }] });
      const dependant = await submit({ depends_on: [nobody] });
      const later = await submit({ run_at: new Date(Date.now() + 3_600_000).toISOString() });

      const none = await explain(nobody);
      assert.equal(none.code, 'NO_CAPABLE_AGENT');
      assert.match(none.message, /"translation" \(no agent has it\)/);
      const waiting = await explain(dependant);
      assert.equal(waiting.code, 'WAITING_FOR_DEPENDENCIES');
      assert.deepEqual(waiting.details['waiting_for'], [{ id: nobody, status: 'pending' }]);
      const sdk = new HiveClient(`127.0.0.1:${grpcPort}`);
      try {
        const viaSdk = await sdk.explainTask(dependant);
        assert.deepEqual(
          { code: viaSdk.code, details: viaSdk.details },
          { code: waiting.code, details: waiting.details },
        );
      } finally {
        sdk.close();
      }
      assert.equal((await explain(later)).code, 'SCHEDULED');

      const paused = await agent({ name: 'resting', capabilities: ['resting'], executor: 'sleep' });
      const p = await api.post(`/api/agents/${paused}/pause`, {});
      assert.equal(p.body.data?.paused, true, JSON.stringify(p.body));
      // A claim already in flight when the pause landed may still take the task and give it back
      // (RELEASED until its run_at): once that passes, the paused agent is the reason.
      const resting = await submit({ required_capabilities: ['resting'] });
      await waitFor(
        async () => (await api.get(`/api/tasks/${resting}/explain`)).body.data.code === 'CAPABLE_AGENTS_UNAVAILABLE',
        15_000,
        'the paused agent to be the reason',
      );
      const unavailable = await explain(resting);
      assert.equal(unavailable.code, 'CAPABLE_AGENTS_UNAVAILABLE');
      assert.match(unavailable.message, /resting \(paused\)/);

      await agent({ name: 'failing', capabilities: ['fails'], executor: 'fail' });
      const retried = await submit({ required_capabilities: ['fails'], payload: { retryable: true } });
      await waitFor(
        async () => {
          const t = (await api.get(`/api/tasks/${retried}`)).body.data;
          return t.status === 'pending' && t.error !== null;
        },
        10_000,
        'the first attempt to fail',
      );
      const backoff = await explain(retried);
      assert.equal(backoff.code, 'RETRY_BACKOFF');
      assert.match(backoff.message, /attempt 1 failed/);

      // One busy agent: the first task runs, a few wait in its deque, the rest stay pending and ready.
      await agent({ name: 'busy', capabilities: ['busy'], executor: 'sleep', max_concurrency: 1 });
      const busy: string[] = [];
      for (let i = 0; i < 10; i++)
        busy.push(await submit({ required_capabilities: ['busy'], payload: { ms: 60_000 } }));
      await waitFor(
        async () => (await api.get(`/api/tasks/${busy[0]}`)).body.data.status === 'running',
        10_000,
        'the first busy task to run',
      );
      assert.equal((await explain(busy[0]!)).code, 'RUNNING');
      const last = busy[busy.length - 1]!;
      const ready = await explain(last);
      assert.equal(ready.code, 'READY');
      // Ahead of it in claim order: every ready pending task submitted before it (same priority).
      const pending = (await api.get('/api/tasks/pending?limit=1000')).body.data.tasks as Msg[];
      const readyBefore = pending.filter(
        (t) => t['id'] !== last && t['id'] !== dependant && t['id'] !== later && t['id'] !== retried,
      );
      assert.equal(ready.details['ahead'], readyBefore.length);
      assert.ok(readyBefore.length >= 3, `nobody, resting and some busy ones wait: ${readyBefore.length}`);

      // The pending view says the same, task by task.
      const waiting2 = new Map(pending.map((t) => [t['id'], (t['waiting'] as Msg)['code']]));
      assert.deepEqual(
        [nobody, dependant, later, resting, retried, last].map((id) => waiting2.get(id)),
        [
          'NO_CAPABLE_AGENT',
          'WAITING_FOR_DEPENDENCIES',
          'SCHEDULED',
          'CAPABLE_AGENTS_UNAVAILABLE',
          'RETRY_BACKOFF',
          'READY',
        ],
      );
      assert.equal(
        (pending.find((t) => t['id'] === later)!['waiting'] as Msg)['message'],
        (await explain(later)).message,
      );

      await api.post(`/api/tasks/${last}/cancel`, {});
      assert.equal((await explain(last)).code, 'FINISHED');
      for (const id of busy) await api.post(`/api/tasks/${id}/cancel`, {});
    });

    it('refuses an id that is not a UUID (400 naming id) and answers 404 for an unknown task', async () => {
      const bad = await api.get('/api/tasks/nope/explain');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.details.field, 'id');
      const unknown = await api.get('/api/tasks/00000000-0000-4000-8000-000000000000/explain');
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error.code, 'TASK_NOT_FOUND');
    });
  });
}

explainSuite('sqlite');
explainSuite('postgres');
