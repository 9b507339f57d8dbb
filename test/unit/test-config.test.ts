import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, schemaKeyPaths } from '../../src/config/index.js';
import { ROOT } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-config-'));
function file(name: string, text: string): string {
  const p = path.join(tmp, name);
  writeFileSync(p, text);
  return p;
}
function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.source}: ${p.keyPath}: ${p.message}`);
    throw err;
  }
  assert.fail('expected a ConfigError');
}

describe('configuration', () => {
  it('loads the defaults with the development profile and freezes them', () => {
    const c = loadConfig({ env: {} });
    assert.equal(c.server.port, 3001);
    assert.equal(c.grpc.port, 50051);
    assert.equal(c.profile, 'development');
    assert.equal(c.database.url, '');
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.server));
    assert.throws(() => {
      (c.server as { port: number }).port = 1;
    });
  });

  it('applies profile, --config, environment and command line in that order', () => {
    const f = file('over.toml', '[server]\nport = 4000\nhost = "127.0.0.1"\n[logging]\nlevel = "debug"\n');
    const c = loadConfig({ env: { HIVE_ENV: 'test', HIVE_SERVER_HOST: '::1' }, configFile: f, logLevel: 'error' });
    assert.equal(c.server.port, 4000); // --config over test.toml's 0
    assert.equal(c.server.host, '::1'); // env over --config
    assert.equal(c.logging.level, 'error'); // command line over everything
    assert.equal(loadConfig({ env: {}, configFile: f, port: 5000 }).server.port, 5000);
  });

  it('coerces environment values by type, and HIVE_DATABASE_URL wins over DATABASE_URL', () => {
    const c = loadConfig({
      env: {
        HIVE_CLUSTER_ENABLED: 'true',
        DATABASE_URL: 'postgres://a@h/db1',
        HIVE_DATABASE_URL: 'postgres://b@h/db2',
        HIVE_AGENTS_DEFAULT_CAPABILITIES: 'code:0.9, math',
        HIVE_TASKS_BACKOFF_JITTER: '0.5',
      },
    });
    assert.equal(c.cluster.enabled, true);
    assert.equal(c.database.url, 'postgres://b@h/db2');
    assert.deepEqual(c.agents.default_capabilities, ['code:0.9', 'math']);
    assert.equal(c.tasks.backoff_jitter, 0.5);
    assert.equal(loadConfig({ env: { DATABASE_URL: 'postgres://a@h/db1' } }).database.url, 'postgres://a@h/db1');
  });

  it('lists every problem at once, each with its source and key path', () => {
    const f = file('many.toml', '[server]\nport = -1\nworkerz = 2\n[neural]\nenabled = "yes"\n[nope]\nx = 1\n');
    const found = problems(() => loadConfig({ env: { HIVE_GRPC_PORT: 'x' }, configFile: f }));
    assert.equal(found.length, 5, found.join('\n'));
    assert.ok(found.some((p) => /many\.toml: server\.port: expected an integer from 0 to 65535, got -1/.test(p)));
    assert.ok(found.some((p) => /server\.workerz: unknown key; did you mean "workers"\?/.test(p)));
    assert.ok(found.some((p) => /neural\.enabled: expected true or false, got "yes" \(string\)/.test(p)));
    assert.ok(found.some((p) => /nope: unknown section \[nope\]/.test(p)));
    assert.ok(found.some((p) => /env HIVE_GRPC_PORT: grpc\.port/.test(p)));
  });

  it('refuses cluster mode on the embedded store', () => {
    const found = problems(() => loadConfig({ env: { HIVE_CLUSTER_ENABLED: 'true' } }));
    assert.match(found.join('\n'), /cluster\.enabled: cluster mode needs PostgreSQL/);
  });

  it('refuses a profile that has no file', () => {
    assert.match(
      problems(() => loadConfig({ env: { HIVE_ENV: 'staging' } })).join(),
      /no profile file settings\/staging\.toml/,
    );
  });

  it('checks tables of tables entry by entry', () => {
    const f = file('exec.toml', '[agents.executors.tool]\nmodule = "./t.js"\n[agents.executors.bad]\nmodul = "x"\n');
    const found = problems(() => loadConfig({ env: {}, configFile: f }));
    assert.ok(found.some((p) => /agents\.executors\.bad\.modul: unknown key; did you mean "module"\?/.test(p)));
    assert.ok(found.some((p) => /agents\.executors\.bad\.module: missing required key/.test(p)));
  });

  it('loads settings/production.toml', () => {
    const c = loadConfig({ env: { HIVE_ENV: 'production', HIVE_SECURITY_JWT_SECRET: 'p'.repeat(64) } });
    assert.equal(c.security.enabled, true);
    assert.match(c.database.url, /^postgres:\/\/ai_orchestrator@localhost:5432\/hive_db$/);
  });

  it("accepts every TOML snippet of the troubleshooting guide's configuration sections", () => {
    const seed = readFileSync(path.join(ROOT, '../shared/seeds/000_6118f0adcac13fb8.txt'), 'utf8');
    const snippets = [...seed.matchAll(/```toml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    assert.ok(snippets.length >= 6, `found ${snippets.length} snippets`);
    for (const [i, text] of snippets.entries()) {
      const f = file(`seed-${i}.toml`, text);
      assert.doesNotThrow(() => loadConfig({ env: {}, configFile: f }), `snippet ${i}:\n${text}`);
    }
  });

  it("keeps the guide's appended `port = 3002` inside [server] of production.toml", () => {
    const prod = readFileSync(path.join(ROOT, 'settings/production.toml'), 'utf8');
    const f = file('prod-appended.toml', `${prod}port = 3002\n`);
    assert.equal(
      loadConfig({ env: { HIVE_ENV: 'production', HIVE_SECURITY_JWT_SECRET: 'p'.repeat(64) }, configFile: f }).server
        .port,
      3002,
    );
  });

  it('documents every schema key in docs/configuration.md and settings/default.toml', () => {
    const doc = readFileSync(path.join(ROOT, 'docs/configuration.md'), 'utf8');
    const defaults = readFileSync(path.join(ROOT, 'settings/default.toml'), 'utf8');
    for (const key of schemaKeyPaths()) {
      const [section, name] = key.split('.') as [string, string];
      assert.ok(
        new RegExp(`## \\[${section}\\][\\s\\S]*?\`${name}\``).test(doc),
        `docs/configuration.md misses ${key}`,
      );
      assert.ok(
        new RegExp(`\\[${section}(\\.${name})?\\][\\s\\S]*?${name}`).test(defaults),
        `settings/default.toml misses ${key}`,
      );
    }
  });
});
