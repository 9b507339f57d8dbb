/** Invariant 1: a task acknowledged with 201 survives kill -9 of the hub; the next start requeues and completes it. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hubEnv, startHub } from '../helpers/cli.js';
import { client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait-for.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';

describe('crash recovery', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-crash-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('completes every acknowledged task after SIGKILL mid-run and a restart', async () => {
    const env = hubEnv({
      HIVE_DATABASE_DATA_DIR: tmp,
      HIVE_SERVER_HOST: '127.0.0.1',
      HIVE_AGENTS_DEFAULT_POOL_SIZE: '3',
      HIVE_AGENTS_DEFAULT_EXECUTOR: 'sleep',
    });
    const first = await startHub([], env);
    const api = client(first.port);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await api.post('/api/tasks', { title: `crash-${i}`, payload: { ms: 100 } });
      assert.equal(r.status, 201);
      ids.push(r.body.data.id);
    }
    await waitFor(
      async () => (await api.get('/api/tasks?status=running')).body.data.total > 0,
      10_000,
      'tasks to be running',
    );
    assert.equal(await first.stop('SIGKILL'), null);

    const second = await startHub([], env);
    const api2 = client(second.port);
    await waitFor(
      async () => (await api2.get('/api/tasks?status=completed&limit=1000')).body.data.total === 30,
      30_000,
      'all 30 tasks to complete after the restart',
    );
    for (const id of ids) {
      const t = (await api2.get(`/api/tasks/${id}`)).body.data;
      assert.equal(t.status, 'completed');
      assert.equal(t.events.filter((e: any) => e.to_status === 'completed').length, 1);
    }
    const requeued = (await api2.get('/metrics')).body.data.current_metrics.task_management;
    assert.equal(requeued.by_status.completed, 30);
    assert.equal(await second.stop(), 0);
  });
});

describe('crash recovery on PostgreSQL', function () {
  this.timeout(120_000);
  let tmp: string;
  let db: TestDatabase | undefined;
  before(async function () {
    await requirePostgres(this);
    db = await createTestDatabase();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-crash-pg-'));
  });
  after(async () => {
    await db?.drop();
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it('completes each of 10,000 tasks exactly once after SIGKILL while they run', async () => {
    const env = hubEnv({
      HIVE_DATABASE_URL: db!.url,
      HIVE_DATABASE_DATA_DIR: tmp,
      HIVE_SERVER_HOST: '127.0.0.1',
      HIVE_AGENTS_DEFAULT_POOL_SIZE: '4',
      HIVE_AGENTS_POOL_MAX_CONCURRENCY: '16',
      HIVE_AGENTS_DEFAULT_EXECUTOR: 'sleep',
      HIVE_TASKS_MAX_PENDING: '1000000',
    });
    const first = await startHub([], env);
    const api = client(first.port);
    for (let b = 0; b < 10; b++) {
      const r = await api.post('/api/tasks/bulk', {
        tasks: Array.from({ length: 1000 }, (_, i) => ({ title: `crash-${b}-${i}`, payload: { ms: 2 } })),
      });
      assert.equal(r.status, 201);
    }
    await waitFor(
      async () => (await api.get('/api/tasks?status=completed&limit=1')).body.data.total >= 2000,
      60_000,
      '2,000 completions before the kill',
    );
    assert.equal(await first.stop('SIGKILL'), null);
    const pg = new (await import('pg')).default.Client({ connectionString: db!.url });
    await pg.connect();
    const atKill = (await pg.query("SELECT count(*)::int AS n FROM tasks WHERE status IN ('assigned', 'running')"))
      .rows[0].n as number;

    const second = await startHub([], env);
    const api2 = client(second.port);
    await waitFor(
      async () => (await api2.get('/api/tasks?status=completed&limit=1')).body.data.total === 10_000,
      90_000,
      'all 10,000 tasks to complete',
    );
    const rows = (
      await pg.query('SELECT status, count(*)::int AS n, count(completed_at)::int AS done FROM tasks GROUP BY status')
    ).rows;
    assert.deepEqual(rows, [{ status: 'completed', n: 10_000, done: 10_000 }]);
    const doubled = (
      await pg.query(
        "SELECT task_id FROM task_events WHERE to_status = 'completed' GROUP BY task_id HAVING count(*) > 1",
      )
    ).rows;
    assert.deepEqual(doubled, [], 'no task recorded completed twice');
    const recovered = (
      await pg.query("SELECT count(*)::int AS n FROM task_events WHERE detail->>'reason' LIKE 'recovered at start%'")
    ).rows[0].n as number;
    assert.ok(atKill > 0, 'the kill came while tasks were in flight');
    assert.equal(recovered, atKill, 'every task in flight at the kill was requeued at the restart');
    await pg.end();
    assert.equal(await second.stop(), 0);
  });
});
