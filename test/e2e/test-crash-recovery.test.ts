/** Invariant 1: a task acknowledged with 201 survives kill -9 of the hub; the next start requeues and completes it. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hubEnv, startHub } from '../helpers/cli.js';
import { client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait-for.js';

describe('crash recovery', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-crash-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('completes every acknowledged task after SIGKILL mid-run and a restart', async () => {
    const env = hubEnv({ HIVE_DATABASE_DATA_DIR: tmp, HIVE_SERVER_HOST: '127.0.0.1', HIVE_AGENTS_DEFAULT_POOL_SIZE: '3', HIVE_AGENTS_DEFAULT_EXECUTOR: 'sleep' });
    const first = await startHub([], env);
    const api = client(first.port);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await api.post('/api/tasks', { title: `crash-${i}`, payload: { ms: 100 } });
      assert.equal(r.status, 201);
      ids.push(r.body.data.id);
    }
    await waitFor(async () => (await api.get('/api/tasks?status=running')).body.data.total > 0, 10_000, 'tasks to be running');
    assert.equal(await first.stop('SIGKILL'), null);

    const second = await startHub([], env);
    const api2 = client(second.port);
    await waitFor(async () => (await api2.get('/api/tasks?status=completed&limit=1000')).body.data.total === 30, 30_000, 'all 30 tasks to complete after the restart');
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
