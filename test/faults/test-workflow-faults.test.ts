/**
 * Workflows under faults, on a private PostgreSQL server that is stopped for a
 * while: tasks whose timers come due during the outage wake once it is back
 * (each exactly once, with its checkpoint), a schedule every second fires
 * every tick once (the ones missed during the outage by catch-up), a signal
 * sent during the outage is refused fast (503) and delivered when sent again,
 * and the hub keeps serving throughout.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunningHub } from '../helpers/cli.js';
import { client, type Client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait-for.js';
import { alive, faultStack, requirePrivatePostgres, type FaultStack } from '../helpers/faults.js';

const CONFIG = `
[agents.executors.workflow]
module = "test/fixtures/handlers/workflow.mjs"
`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('faults: workflows through a PostgreSQL outage', function () {
  this.timeout(180_000);
  let stack: FaultStack;
  let hub: RunningHub;
  let api: Client;
  let tmp: string;

  before(async function () {
    requirePrivatePostgres(this);
    stack = await faultStack();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-wf-fault-'));
    const file = path.join(tmp, 'wf.toml');
    writeFileSync(file, CONFIG);
    hub = await stack.startHub({ HIVE_AGENTS_DEFAULT_POOL_SIZE: '0' }, ['--config', file]);
    api = client(hub.port);
    const r = await api.post('/api/agents', { name: 'wf', executor: 'workflow', max_concurrency: 32 });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  });
  after(async () => {
    await stack?.close();
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it('wakes timers, fires every tick once and delivers signals after the database was away', async () => {
    const s = await api.post('/api/schedules', {
      name: 'through-outage',
      interval_ms: 1000,
      catchup: 'all',
      overlap: 'allow',
      task: { title: 'tick', payload: { mode: 'none' } },
    });
    assert.equal(s.status, 201, JSON.stringify(s.body));
    const sleepers = await api.post('/api/tasks/bulk', {
      tasks: Array.from({ length: 50 }, (_, i) => ({ title: `s${i}`, payload: { mode: 'sleep', ms: 1500 } })),
    });
    const signalled = await api.post('/api/tasks', { title: 'sig', payload: { mode: 'signal', signal: 'go' } });
    const ids: string[] = sleepers.body.data.tasks.map((t: { id: string }) => t.id);
    const sigId: string = signalled.body.data.id;
    await waitFor(
      async () =>
        (await api.get(`/api/tasks/${sigId}`)).body.data.status === 'waiting' &&
        (await api.get('/api/tasks?status=waiting&limit=1')).body.data.total >= 40,
      20_000,
      'the sleepers and the signalled task waiting',
    );
    stack.pg.stop();
    const down = await api.post(`/api/tasks/${sigId}/signal`, { name: 'go' });
    assert.equal(down.status, 503, 'refused fast while the database is away');
    await sleep(3000);
    stack.pg.start();
    await waitFor(
      async () => (await api.post(`/api/tasks/${sigId}/signal`, { name: 'go', payload: 'after' })).status === 200,
      30_000,
      'the signal delivered',
    );
    await waitFor(
      async () => {
        const rows = await stack.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM tasks WHERE status = 'completed' AND id = ANY($1::uuid[])",
          [[...ids, sigId]],
        );
        return rows[0]?.n === 51;
      },
      60_000,
      'every sleeper and the signalled task completed',
    );
    await sleep(2500);
    assert.ok(alive(hub));
    const done = await stack.query<{ attempts: number; result: { checkpoint: { step: number } } }>(
      'SELECT attempts, result FROM tasks WHERE id = ANY($1::uuid[])',
      [ids],
    );
    assert.ok(
      done.every((d) => d.attempts === 1 && d.result.checkpoint.step === 1),
      'each woke once, with its checkpoint',
    );
    const [sig] = await stack.query<{ result: { resume: { signal: { payload: unknown } } } }>(
      'SELECT result FROM tasks WHERE id = $1',
      [sigId],
    );
    assert.equal(sig?.result.resume.signal.payload, 'after');
    const ticks = (
      await stack.query<{ k: string }>(
        'SELECT idempotency_key AS k FROM tasks WHERE schedule_id = $1 ORDER BY idempotency_key',
        [s.body.data.id],
      )
    ).map((r) => Date.parse(r.k.split(':').slice(2).join(':')));
    assert.equal(new Set(ticks).size, ticks.length, 'no tick twice');
    const gaps = ticks.slice(1).map((t, i) => t - ticks[i]!);
    assert.ok(
      gaps.every((g) => g === 1000),
      `every tick once, missed ones caught up (gaps ${gaps.join(',')})`,
    );
    assert.ok(ticks.length >= 5, `${ticks.length} ticks`);
  });
});
