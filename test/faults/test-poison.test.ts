/**
 * Invariant 7: one bad item never fails its neighbours. Poisoned submissions (a NUL,
 * 5,000-deep nesting) concurrent with good ones, on both engines; a remote agent
 * answering with a NUL result while other tasks keep completing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HiveClient, runAgent } from '../../src/grpc/client/index.js';
import { hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { client } from '../helpers/http.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait-for.js';

/** A body whose payload nests `levels` deep, as JSON text (JSON.stringify itself overflows on such a value). */
function deepBody(title: string, levels: number): string {
  return `{"title":${JSON.stringify(title)},"payload":${'['.repeat(levels)}"bottom"${']'.repeat(levels)}}`;
}

/** Submission i of a round: every 5th poisoned, alternately by a NUL in the title and by deep nesting. */
function submission(round: number, i: number): { body: unknown; poisoned: boolean } {
  if (i % 5 !== 4) return { body: { title: `good-${round}-${i}`, payload: { n: i } }, poisoned: false };
  return { body: i % 10 === 4 ? { title: `bad\u0000${i}` } : deepBody(`deep-${i}`, 5000), poisoned: true };
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`faults: poisoned submissions among good ones (${engine})`, function () {
    this.timeout(60_000);
    let tmp: string;
    let db: TestDatabase | undefined;
    let hub: RunningHub;

    before(async function () {
      if (engine === 'postgres') {
        await requirePostgres(this);
        db = await createTestDatabase();
      }
      tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-poison-'));
      hub = await startHub(
        [],
        hubEnv({
          HIVE_DATABASE_DATA_DIR: tmp,
          HIVE_SERVER_HOST: '127.0.0.1',
          HIVE_AGENTS_DEFAULT_POOL_SIZE: '2',
          ...(db ? { HIVE_DATABASE_URL: db.url } : {}),
        }),
      );
    });
    after(async () => {
      if (hub !== undefined) await hub.stop();
      await db?.drop();
      if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
    });

    it('stores every good submission (201) and refuses every bad one (400 naming the field)', async () => {
      const api = client(hub.port);
      let good = 0;
      for (let round = 0; round < 10; round++) {
        const subs = Array.from({ length: 20 }, (_, i) => submission(round, i));
        const replies = await Promise.all(subs.map((s) => api.post('/api/tasks', s.body)));
        replies.forEach((r, i) => {
          const s = subs[i]!;
          if (!s.poisoned) {
            good++;
            assert.equal(r.status, 201, JSON.stringify(r.body));
            return;
          }
          assert.equal(r.status, 400, JSON.stringify(r.body).slice(0, 300));
          assert.equal(r.body.error.code, 'VALIDATION_FAILED');
          assert.match(String(r.body.error.details.field), /^(title|payload)/);
        });
      }
      assert.equal(good, 160);
      await waitFor(
        async () => (await api.get('/api/tasks?status=completed&limit=1')).body.data.total === 160,
        30_000,
        'the 160 good tasks to complete',
      );
      assert.equal((await api.get('/api/tasks?limit=1')).body.data.total, 160, 'nothing of the bad ones was stored');
    });

    it('refuses a NUL in a bulk item and in an Idempotency-Key, storing nothing of that request', async () => {
      const api = client(hub.port);
      const before = (await api.get('/api/tasks?limit=1')).body.data.total as number;
      const bulk = await api.post('/api/tasks/bulk', {
        tasks: [{ title: 'fine' }, { title: 'x', description: 'a\u0000b' }],
      });
      assert.equal(bulk.status, 400);
      assert.match(bulk.body.error.message, /description/);
      const keyed = await api
        .post('/api/tasks', { title: 'keyed' }, { 'idempotency-key': 'k\u0000' })
        .catch((err: Error) => ({ status: 400, body: { error: { message: err.message } } }));
      assert.equal(keyed.status, 400);
      assert.equal((await api.get('/api/tasks?limit=1')).body.data.total, before);
    });
  });
}

describe('faults: a remote agent answers with a result no store can hold (PostgreSQL)', function () {
  this.timeout(90_000);
  let tmp: string;
  let db: TestDatabase | undefined;
  let hub: RunningHub;
  let hive: HiveClient;
  let address: string;

  before(async function () {
    await requirePostgres(this);
    db = await createTestDatabase();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-poison-agent-'));
    hub = await startHub(
      [],
      hubEnv({
        HIVE_DATABASE_URL: db.url,
        HIVE_DATABASE_DATA_DIR: tmp,
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '0',
        HIVE_TASKS_MAX_PENDING: '100000',
      }),
    );
    address = `127.0.0.1:${/"grpc_port":(\d+)/.exec(hub.output())?.[1]}`;
    hive = new HiveClient(address);
  });
  after(async () => {
    hive?.close();
    if (hub !== undefined) await hub.stop();
    await db?.drop();
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it('fails only the poisoned attempt (RESULT_INVALID, then dead by policy); every other task completes', async () => {
    const agent = runAgent(
      (task) =>
        (task.payload as { n: number }).n % 50 === 7 ? { s: '\u0000' } : { ok: (task.payload as { n: number }).n },
      {
        address,
        name: 'nul-agent',
        capabilities: [{ name: 'poison', proficiency: 1 }],
        maxConcurrency: 8,
      },
    );
    await agent.registered;
    const api = client(hub.port);
    const tasks = Array.from({ length: 500 }, (_, n) => ({
      title: `p-${n}`,
      payload: { n },
      max_attempts: 2,
      required_capabilities: [{ name: 'poison', min_proficiency: 0 }],
    }));
    const r = await api.post('/api/tasks/bulk', { tasks });
    assert.equal(r.status, 201);
    const poisoned = tasks.filter((t) => t.payload.n % 50 === 7).length;
    await waitFor(
      async () => (await api.get('/api/tasks?status=completed&limit=1')).body.data.total === 500 - poisoned,
      60_000,
      'every good task to complete',
    );
    await waitFor(
      async () => (await api.get('/api/tasks?status=dead&limit=1')).body.data.total === poisoned,
      30_000,
      'the poisoned tasks to end dead',
    );
    const dead = (await api.get('/api/tasks?status=dead&limit=100')).body.data.tasks as Array<{
      error: { code: string };
    }>;
    assert.ok(
      dead.every((t) => t.error.code === 'RESULT_INVALID'),
      JSON.stringify(dead[0]),
    );
    await agent.stop();
  });
});

describe('faults: a local handler returns a result the database refuses (PostgreSQL)', function () {
  this.timeout(90_000);
  let tmp: string;
  let db: TestDatabase | undefined;
  let hub: RunningHub;

  before(async function () {
    await requirePostgres(this);
    db = await createTestDatabase();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-poison-local-'));
    const env = {
      HIVE_DATABASE_URL: db.url,
      HIVE_DATABASE_DATA_DIR: tmp,
      HIVE_SERVER_HOST: '127.0.0.1',
      HIVE_AGENTS_DEFAULT_POOL_SIZE: '2',
      HIVE_AGENTS_DEFAULT_EXECUTOR: 'nul',
      HIVE_TASKS_MAX_PENDING: '100000',
    };
    hub = await startHub(['--config', 'test/fixtures/nul-executor.toml'], hubEnv(env));
  });
  after(async () => {
    if (hub !== undefined) await hub.stop();
    await db?.drop();
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it('splits the batch of ends: the refused attempt fails with RESULT_UNSTORABLE, its neighbours are stored', async () => {
    const api = client(hub.port);
    const tasks = Array.from({ length: 2000 }, (_, n) => ({
      title: `l-${n}`,
      payload: { n, poison: n % 200 === 13 },
      max_attempts: 2,
    }));
    for (let i = 0; i < tasks.length; i += 1000)
      assert.equal((await api.post('/api/tasks/bulk', { tasks: tasks.slice(i, i + 1000) })).status, 201);
    const poisoned = tasks.filter((t) => t.payload.poison).length;
    await waitFor(
      async () => (await api.get('/api/tasks?status=completed&limit=1')).body.data.total === 2000 - poisoned,
      60_000,
      'every good task to complete',
    );
    await waitFor(
      async () => (await api.get('/api/tasks?status=dead&limit=1')).body.data.total === poisoned,
      30_000,
      'the refused ones to end dead by their policy',
    );
    const dead = (await api.get('/api/tasks?status=dead&limit=100')).body.data.tasks as Array<{
      error: { code: string };
      attempts: number;
    }>;
    assert.ok(
      dead.every((t) => t.error.code === 'RESULT_UNSTORABLE' && t.attempts === 2),
      JSON.stringify(dead[0]),
    );
    assert.match(hub.output(), /task\.end_refused/);
  });
});
