/**
 * The embedded store on a full disk: submissions get 503 STORAGE_UNAVAILABLE (retryable,
 * Retry-After), /health says the database is degraded and why, the hub stays up, and
 * work resumes by itself when space returns. The data directory is a small tmpfs the
 * test mounts (root only), grown again with a remount.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait-for.js';

function canMount(): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hub-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'this machine refuses to mount a tmpfs';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('faults: the embedded store on a full disk', function () {
  this.timeout(120_000);
  let dir: string;
  let hub: RunningHub | undefined;

  before(function () {
    const reason = canMount();
    if (reason !== undefined) {
      if (process.env['CI'] === 'true') throw new Error(`${reason}; CI runs as root and must run this test`);
      console.log(`skipping the disk-full test: ${reason}`);
      this.skip();
    }
    dir = mkdtempSync(path.join(os.tmpdir(), 'hub-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', dir]);
  });
  after(async () => {
    if (hub !== undefined && hub.child.exitCode === null) await hub.stop('SIGKILL');
    if (dir !== undefined) {
      execFileSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers 503 STORAGE_UNAVAILABLE while the disk is full, and resumes when space returns', async () => {
    hub = await startHub(
      [],
      hubEnv({
        HIVE_DATABASE_DATA_DIR: dir,
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '2',
        HIVE_NEURAL_ENABLED: 'false',
      }),
    );
    const api = client(hub.port);
    const big = 'z'.repeat(60_000);
    let full: { status: number; body: any; headers: Headers } | undefined;
    const accepted: string[] = [];
    for (let i = 0; i < 400 && full === undefined; i++) {
      const r = await api.post('/api/tasks', { title: `fill-${i}`, payload: { big } });
      if (r.status === 201) accepted.push(r.body.data.id);
      else full = r;
    }
    assert.ok(full !== undefined, 'the disk filled up');
    assert.equal(full.status, 503, JSON.stringify(full.body));
    assert.equal(full.body.error.code, 'STORAGE_UNAVAILABLE');
    assert.ok(Number(full.headers.get('retry-after')) >= 1);
    const health = await api.get('/health?detailed=true');
    assert.equal(health.status, 200, 'degraded, not down: a restart would not free the disk');
    assert.equal(health.body.data.status, 'degraded');
    assert.equal(health.body.data.checks.database.status, 'degraded');
    assert.match(health.body.data.checks.database.error, /SQLITE_FULL|full/i);
    assert.equal(hub.child.exitCode, null, 'the hub is still up');
    execFileSync('mount', ['-o', 'remount,size=256m', dir]);
    await waitFor(
      async () => (await api.post('/api/tasks', { title: 'after space returned' })).status === 201,
      15_000,
      'submissions to be accepted again',
    );
    await waitFor(
      async () => (await api.get('/api/tasks?status=completed&limit=1')).body.data.total >= accepted.length + 1,
      60_000,
      'every accepted task to complete',
    );
    await waitFor(
      async () =>
        (await api.get('/health')).status === 200 && (await api.get('/health')).body.data.status !== 'degraded',
      15_000,
      '/health healthy again',
    );
    console.log(
      `      disk full after ${accepted.length} submissions of 60 KB: 503 STORAGE_UNAVAILABLE; all ${accepted.length} completed after the remount`,
    );
  });
});
