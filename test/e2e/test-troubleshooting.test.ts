/**
 * docs/troubleshooting.md: every block marked `bash runbook` runs, as written, against
 * a hub with security on (PostgreSQL, an admin API key in HIVE_API_KEY), with only the
 * port, the database and the role replaced by the test's. Each must exit 0 and print
 * something, and no jq path may come out null.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { client } from '../helpers/http.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait-for.js';

/** The runbook blocks of a markdown file, with the heading each sits under. */
export function runbookBlocks(markdown: string): Array<{ heading: string; script: string }> {
  const out: Array<{ heading: string; script: string }> = [];
  let heading = '';
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('#')) heading = line.replace(/^#+\s*/, '');
    if (line.trim() === '```bash runbook') {
      const body: string[] = [];
      for (i++; i < lines.length && lines[i]!.trim() !== '```'; i++) body.push(lines[i]!);
      out.push({ heading, script: body.join('\n') });
    }
  }
  return out;
}

const ADMIN = 'runbook admin password';

describe('docs/troubleshooting.md runbook', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let hub: RunningHub;
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  const blocks = runbookBlocks(readFileSync(path.join(ROOT, 'docs/troubleshooting.md'), 'utf8'));

  before(async function () {
    await requirePostgres(this);
    db = await createTestDatabase();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-runbook-'));
    hub = await startHub(
      [],
      hubEnv({
        HIVE_DATABASE_URL: db.url,
        HIVE_DATABASE_DATA_DIR: tmp,
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_SECURITY_ENABLED: 'true',
        HIVE_SECURITY_JWT_SECRET: 'runbook-secret-'.padEnd(64, 'r'),
        HIVE_SECURITY_ADMIN_PASSWORD: ADMIN,
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '2',
      }),
    );
    const api = client(hub.port);
    const token = (await api.post('/auth/login', { username: 'admin', password: ADMIN })).body.data
      .access_token as string;
    const auth = { authorization: `Bearer ${token}` };
    const key = (await api.post('/api/auth/keys', { name: 'runbook', role: 'admin' }, auth)).body.data.key as string;
    // Something to look at: completed tasks, a pending one no agent can take, dead ones to redrive.
    await api.post('/api/agents', { name: 'failer', executor: 'fail', capabilities: ['fails'] }, auth);
    for (let i = 0; i < 5; i++) await api.post('/api/tasks', { title: `runbook ${i}` }, auth);
    await api.post(
      '/api/tasks',
      { title: 'waits', required_capabilities: [{ name: 'translation', min_proficiency: 0.9 }] },
      auth,
    );
    await api.post(
      '/api/tasks',
      { title: 'dies', required_capabilities: ['fails'], max_attempts: 1, payload: { retryable: true } },
      auth,
    );
    await waitFor(
      async () => (await api.get('/api/tasks?status=dead', auth)).body.data.total === 1,
      10_000,
      'a dead task',
    );
    // `ai-orchestrator-hub` on PATH, as install.sh provides it.
    const bin = path.join(tmp, 'bin');
    spawnSync('mkdir', ['-p', bin]);
    writeFileSync(
      path.join(bin, 'ai-orchestrator-hub'),
      `#!/bin/sh\nexec ${process.execPath} ${path.join(ROOT, 'bin/ai-orchestrator-hub.js')} "$@"\n`,
    );
    chmodSync(path.join(bin, 'ai-orchestrator-hub'), 0o755);
    // psql, vacuumdb and reindexdb reach the test's server (its port may not be 5432: HUB_TEST_PG_URL).
    const pgUrl = new URL(db.url);
    env = {
      ...hubEnv(),
      PGPORT: pgUrl.port || '5432',
      PATH: `${bin}:${process.env['PATH'] ?? ''}`,
      HIVE_API_KEY: key,
      HIVE_URL: `http://localhost:${hub.port}`,
    };
  });
  after(async () => {
    if (hub !== undefined) assert.equal(await hub.stop(), 0);
    await db?.drop();
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it('has runbook blocks in every section the guide checks live', () => {
    const headings = new Set(blocks.map((b) => b.heading));
    for (const h of [
      '2. Health check verification',
      'Issue 4: Database connection issues',
      'Issue 5: Agent coordination problems',
      'Issue 6: WebSocket connection issues',
      'Issue 8: Security and authentication problems',
    ])
      assert.ok(headings.has(h), h);
    assert.ok(blocks.length >= 12, `${blocks.length} blocks`);
  });

  it('runs every runbook block as written', function () {
    const dbName = new URL(db.url).pathname.slice(1);
    for (const { heading, script } of blocks) {
      const local = script
        .replaceAll('localhost:3001', `localhost:${hub.port}`)
        .replaceAll('-U ai_orchestrator', '-U postgres')
        .replace(/\bhive_db\b/g, dbName)
        .replaceAll('sport = :3001', `sport = :${hub.port}`);
      const r = spawnSync('bash', ['-eo', 'pipefail', '-c', local], { env, encoding: 'utf8', timeout: 60_000 });
      const where = `${heading}:\n${script}\n--- stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`;
      assert.equal(r.status, 0, where);
      assert.notEqual(r.stdout.trim(), '', where);
      assert.doesNotMatch(r.stdout, /^null$/m, `a jq path printed null in ${where}`);
    }
  });
});
