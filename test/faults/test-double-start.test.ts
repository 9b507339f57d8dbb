/** Invariant 10: one process per node id. A second process refuses before it touches any lease. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { hubEnv, runCli, startHub, type RunningHub } from '../helpers/cli.js';
import { client } from '../helpers/http.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait-for.js';

for (const engine of ['postgres', 'sqlite'] as const) {
  describe(`faults: a second process with the same node id (${engine})`, function () {
    this.timeout(90_000);
    let tmp: string;
    let db: TestDatabase | undefined;
    let hub: RunningHub;
    let env: NodeJS.ProcessEnv;

    before(async function () {
      if (engine === 'postgres') {
        await requirePostgres(this);
        db = await createTestDatabase();
      }
      tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-double-'));
      env = hubEnv({
        HIVE_DATABASE_DATA_DIR: tmp,
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '2',
        HIVE_AGENTS_POOL_MAX_CONCURRENCY: '16',
        HIVE_AGENTS_DEFAULT_EXECUTOR: 'sleep',
        ...(db ? { HIVE_DATABASE_URL: db.url } : {}),
      });
      hub = await startHub([], env);
    });
    after(async () => {
      if (hub !== undefined) await hub.stop();
      await db?.drop();
      if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
    });

    it('refuses with one clear line while tasks run, and requeues none of them', async () => {
      const api = client(hub.port);
      const r = await api.post('/api/tasks/bulk', {
        tasks: Array.from({ length: 200 }, (_, i) => ({ title: `d-${i}`, payload: { ms: 300 } })),
      });
      assert.equal(r.status, 201);
      await waitFor(
        async () => (await api.get('/api/tasks?status=running&limit=1')).body.data.total >= 16,
        20_000,
        'tasks running',
      );
      const second = await runCli(['--log-level', 'info'], env, 30_000);
      assert.equal(second.code, 1, second.stderr + second.stdout);
      const lines = second.stderr.trim().split('\n');
      assert.equal(lines.length, 1, second.stderr);
      assert.match(lines[0] ?? '', /already in use by another running process/);
      assert.doesNotMatch(second.stdout, /requeued|recovered/);
      await waitFor(
        async () => (await api.get('/api/tasks?status=completed&limit=1')).body.data.total === 200,
        60_000,
        'all 200 tasks to complete',
      );
      const detail = (await api.get('/api/tasks?status=completed&limit=200')).body.data.tasks as Array<{
        attempts: number;
      }>;
      assert.ok(
        detail.every((t) => t.attempts === 1),
        'no task ran twice',
      );
      if (db !== undefined) {
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        const recovered = (
          await c.query("SELECT count(*)::int AS n FROM task_events WHERE detail->>'reason' LIKE 'recovered at start%'")
        ).rows[0].n as number;
        await c.end();
        assert.equal(recovered, 0);
      }
    });
  });
}
