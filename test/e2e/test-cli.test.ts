/**
 * The real CLI, spawned: --check, migrate, the five startup failures, start
 * and graceful stop, on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hubEnv, logRecords, runCli, startHub } from '../helpers/cli.js';
import pg from 'pg';
import { PG_ADMIN_URL, createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-cli-'));
const dataDir = (name: string): string => path.join(tmp, name);

describe('CLI', function () {
  this.timeout(30_000);
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('prints its version and help', async () => {
    const v = await runCli(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
    const h = await runCli(['--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /--check/);
  });

  it('refuses an unknown option with one line', async () => {
    const r = await runCli(['--prot', '3']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Unknown option '--prot'/);
  });

  it('--check passes on the embedded store with one verdict per check, the profile and the files layered', async () => {
    const r = await runCli(['--check'], hubEnv({ HIVE_DATABASE_DATA_DIR: dataDir('check') }));
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'profile: test (chosen by env HIVE_ENV)');
    assert.equal(lines[1], 'files: settings/default.toml, settings/test.toml');
    for (const want of [
      /^ok +configuration valid$/,
      /^ok +\[server\] port 0: an ephemeral port/,
      /^ok +data directory .*check writable by \S+ \(uid \d+\)$/,
      /^ok +database sqlite:.*will be created at start$/,
      /^ok +neural models valid \(task-text v1, agent-fit v1; cpu\)$/,
    ]) {
      assert.ok(
        lines.some((l) => want.test(l)),
        `${String(want)} in ${r.stdout}`,
      );
    }
    assert.equal(lines.at(-1), 'OK: the hub can start with this configuration');
  });

  it('takes the profile from the --config file: its profile key, else its name; a contradicting HIVE_ENV is refused', async () => {
    const env = {
      ...hubEnv({
        HIVE_DATABASE_DATA_DIR: dataDir('profile'),
        HIVE_SECURITY_JWT_SECRET: 'f'.repeat(64),
        HIVE_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      }),
    };
    delete env['HIVE_ENV'];
    const byKey = await runCli(['--config', 'settings/production.toml', '--check'], env);
    assert.match(
      byKey.stdout,
      /^profile: production \(chosen by settings\/production\.toml \(profile key\)\)\nfiles: settings\/default\.toml, settings\/production\.toml\n/,
    );
    const copy = path.join(tmp, 'etc', 'production.toml');
    mkdirSync(path.dirname(copy), { recursive: true });
    writeFileSync(copy, '[server]\nport = 3009\n');
    const byName = await runCli(['--config', copy, '--check'], env);
    assert.match(
      byName.stdout,
      new RegExp(
        `^profile: production \\(chosen by ${copy.replace(/[.]/g, '\\.')} \\(file name\\)\\)\\nfiles: settings/default\\.toml, settings/production\\.toml, ${copy.replace(/[.]/g, '\\.')}\\n`,
      ),
    );
    const contradicted = await runCli(['--config', 'settings/production.toml', '--check'], {
      ...env,
      HIVE_ENV: 'development',
    });
    assert.equal(contradicted.code, 1);
    assert.match(
      contradicted.stderr,
      /HIVE_ENV=development contradicts profile = "production" in settings\/production\.toml/,
    );
    const echoPool = await runCli(['--config', 'settings/production.toml', '--check'], {
      ...env,
      HIVE_AGENTS_DEFAULT_POOL_SIZE: '2',
    });
    assert.equal(echoPool.code, 1);
    assert.match(echoPool.stderr, /agents\.default_pool_size: the production profile never starts echo agents/);
  });

  it('--check refuses what the start would refuse: the port in use, an unwritable data directory; and warns about inert keys', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const file = path.join(tmp, 'not-a-dir');
    writeFileSync(file, 'x');
    try {
      const r = await runCli(
        ['--check'],
        hubEnv({
          HIVE_SERVER_HOST: '127.0.0.1',
          HIVE_SERVER_PORT: String(port),
          HIVE_DATABASE_DATA_DIR: path.join(file, 'data'),
          HIVE_DATABASE_MAX_CONNECTIONS: '50',
          HIVE_CLUSTER_BATCH_MAX: '7',
        }),
      );
      assert.equal(r.code, 1);
      assert.match(
        r.stdout,
        new RegExp(
          `^FAILED port ${port} on 127\\.0\\.0\\.1 is already in use; stop the other process or change \\[server\\] port`,
          'm',
        ),
      );
      assert.match(r.stdout, /^FAILED data directory .*not-a-dir\/data is not writable \(ENOTDIR/m);
      assert.match(r.stdout, /^warn +database\.max_connections = 50 has no effect: the embedded SQLite store/m);
      assert.match(r.stdout, /^warn +cluster\.batch_max = 7 has no effect: cluster\.enabled is false/m);
      assert.match(r.stdout, /^FAILED: 2 checks failed \(2 warnings\)$/m);
      assert.match(r.stderr, /^FAILED: port /m);
    } finally {
      blocker.close();
    }
  });

  const broken: Array<[string, RegExp[]]> = [
    ['bad-syntax.toml', [/test\/fixtures\/bad-syntax\.toml:3:\d+: \(syntax\): invalid TOML/]],
    [
      'bad-value.toml',
      [
        /server\.port: expected an integer from 0 to 65535, got "three thousand" \(string\)/,
        /database\.max_connections: expected an integer from 1 to 1000, got 0/,
      ],
    ],
    [
      'unknown-key.toml',
      [
        /server\.prot: unknown key; did you mean "port"\?/,
        /databse: unknown section \[databse\]; did you mean \[database\]\?/,
      ],
    ],
    ['bad-cross-field.toml', [/database\.min_connections: must not exceed database\.max_connections/]],
    ['bad-enum.toml', [/logging\.level: expected one of "trace", .*got "verbose"/]],
  ];
  for (const [file, patterns] of broken) {
    it(`--check exits 1 with key paths for test/fixtures/${file}`, async () => {
      const r = await runCli(['--config', `test/fixtures/${file}`, '--check']);
      assert.equal(r.code, 1);
      for (const p of patterns) assert.match(r.stderr, p);
    });
  }

  it('reports an invalid environment value with its variable and key path', async () => {
    const r = await runCli(['--check'], hubEnv({ HIVE_SERVER_PORT: 'abc', HIVE_SERVER_PROT: '1' }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /env HIVE_SERVER_PORT: server\.port: expected an integer from 0 to 65535, got "abc"/);
    assert.match(r.stderr, /env HIVE_SERVER_PROT: .*did you mean HIVE_SERVER_PORT\?/);
  });

  it('fails within 5 s when the port is taken, naming the port and the key', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = await runCli(
        [],
        hubEnv({
          HIVE_SERVER_HOST: '127.0.0.1',
          HIVE_SERVER_PORT: String(port),
          HIVE_DATABASE_DATA_DIR: dataDir('port'),
        }),
      );
      assert.equal(r.code, 1);
      assert.ok(r.elapsedMs < 5000 + 2000, `took ${r.elapsedMs} ms (including tsx start-up)`);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.match(r.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use.*\\[server\\] port`));
      assert.ok(logRecords(r.stdout).some((l) => l['level'] === 'fatal' && l['code'] === 'STARTUP_FAILED'));
    } finally {
      blocker.close();
    }
  });

  it('fails within 5 s when the database is unreachable, hiding the password', async () => {
    const r = await runCli(
      [],
      hubEnv({ HIVE_DATABASE_URL: 'postgres://hub:s3cret@127.0.0.1:1/hive_db', HIVE_DATABASE_DATA_DIR: dataDir('db') }),
    );
    assert.equal(r.code, 1);
    assert.ok(r.elapsedMs < 7000, `took ${r.elapsedMs} ms`);
    assert.match(r.stderr, /database unreachable at postgres:\/\/hub:\*\*\*@127\.0\.0\.1:1\/hive_db: .*ECONNREFUSED/);
    assert.doesNotMatch(r.stderr + r.stdout, /s3cret/);
  });

  it('fails when the data directory is not writable, naming it', async () => {
    const file = path.join(tmp, 'a-file');
    writeFileSync(file, 'x');
    const r = await runCli([], hubEnv({ HIVE_DATABASE_DATA_DIR: path.join(file, 'data') }));
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`data directory ${path.join(file, 'data').replace(/[.]/g, '\\.')} is not writable \\(ENOTDIR\\)`),
    );
  });

  it('fails on invalid TOML with file, line and column', async () => {
    const r = await runCli(['--config', 'test/fixtures/bad-syntax.toml']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad-syntax\.toml:3:\d+/);
    assert.ok(logRecords(r.stdout).some((l) => l['level'] === 'fatal' && l['code'] === 'CONFIG_INVALID'));
  });

  it('starts on SQLite, answers /health, and stops cleanly on SIGTERM', async () => {
    const hub = await startHub([], hubEnv({ HIVE_DATABASE_DATA_DIR: dataDir('serve'), HIVE_SERVER_HOST: '127.0.0.1' }));
    const res = await fetch(`http://127.0.0.1:${hub.port}/health`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      success: boolean;
      data: { status: string; modules: Record<string, { status: string }> };
    };
    assert.equal(body.success, true);
    assert.equal(body.data.status, 'healthy');
    assert.deepEqual(Object.keys(body.data.modules).sort(), [
      'agent_management',
      'engine',
      'hive',
      'neural',
      'swarm_coordinator',
      'task_management',
    ]);
    assert.equal(await hub.stop('SIGTERM'), 0);
    const logs = logRecords(hub.output());
    assert.ok(logs.some((l) => l['msg'] === 'stopped'));
    assert.ok(logs.every((l) => typeof l['level'] === 'string' && typeof l['node_id'] === 'string'));
  });

  it('migrate applies migrations once', async () => {
    const env = hubEnv({ HIVE_DATABASE_DATA_DIR: dataDir('migrate') });
    const first = await runCli(['migrate'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /applied migrations 1, 2, 3, 4, 5, 6, 7, 8, 9 to sqlite:/);
    const second = await runCli(['migrate'], env);
    assert.match(second.stdout, /is up to date/);
  });

  describe('on PostgreSQL', () => {
    let db: TestDatabase;
    before(async function () {
      await requirePostgres(this);
      db = await createTestDatabase();
    });
    after(async () => db?.drop());

    it('uses PostgreSQL when HIVE_DATABASE_URL is set', async () => {
      const hub = await startHub(
        [],
        hubEnv({ HIVE_DATABASE_URL: db.url, HIVE_DATABASE_DATA_DIR: dataDir('pg'), HIVE_SERVER_HOST: '127.0.0.1' }),
      );
      const res = await fetch(`http://127.0.0.1:${hub.port}/health?detailed=true`);
      const body = (await res.json()) as { data: { checks: { database: { engine: string; status: string } } } };
      assert.equal(body.data.checks.database.engine, 'postgres');
      assert.equal(body.data.checks.database.status, 'healthy');
      assert.equal(await hub.stop(), 0);
    });

    it('--config settings/production.toml --check exits 0 once a JWT secret is set, as the guide does', async () => {
      // production.toml points at postgres://ai_orchestrator@localhost:5432/hive_db: made here as docs/operations.md does, if missing.
      await ensureProductionDatabase();
      // The file's URL names localhost:5432; a test server elsewhere (HUB_TEST_PG_URL) is given by DATABASE_URL, as an operator would.
      const admin = new URL(PG_ADMIN_URL);
      const onDefault =
        (admin.hostname === '127.0.0.1' || admin.hostname === 'localhost') &&
        (admin.port === '' || admin.port === '5432');
      const url = `postgres://ai_orchestrator@${onDefault ? 'localhost:5432' : admin.host}/hive_db`;
      const r = await runCli(
        ['--config', 'settings/production.toml', '--check'],
        hubEnv({
          HIVE_ENV: 'production',
          HIVE_SECURITY_JWT_SECRET: 'f'.repeat(64),
          HIVE_SECURITY_ADMIN_PASSWORD: 'first admin password',
          ...(onDefault ? {} : { DATABASE_URL: url }),
        }),
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^files: settings\/default\.toml, settings\/production\.toml$/m);
      assert.ok(r.stdout.includes(`ok     database ${url} reachable`), r.stdout);
    });
  });
});

/** The role and database of settings/production.toml (the commands of docs/operations.md), created when missing. */
async function ensureProductionDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    if ((await admin.query("SELECT 1 FROM pg_roles WHERE rolname = 'ai_orchestrator'")).rowCount === 0)
      await admin.query('CREATE ROLE ai_orchestrator LOGIN');
    if ((await admin.query("SELECT 1 FROM pg_database WHERE datname = 'hive_db'")).rowCount === 0)
      await admin.query('CREATE DATABASE hive_db OWNER ai_orchestrator');
  } finally {
    await admin.end();
  }
}
