/**
 * deploy/: the systemd unit (systemd-analyze verify and security), the alert rules
 * (promtool, and every metric they use exists on a live scrape), logrotate, and
 * install.sh into a temporary root, with the installed executable run as the
 * service user: --check, a short start, a stop; then --uninstall.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, hubEnv, startHub } from '../helpers/cli.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait-for.js';

const has = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const printed = new Set<string>();
/** Outside CI a missing tool skips with one line; in CI (.ci/run installs them) it fails. */
function requireTool(ctx: Mocha.Context, tool: string, pkg: string): void {
  if (has(tool)) return;
  if (process.env['CI'] === 'true') throw new Error(`${tool} is missing; CI must install ${pkg}`);
  if (!printed.has(tool)) console.log(`skipping: ${tool} not installed (Debian package ${pkg})`);
  printed.add(tool);
  ctx.skip();
}

const UNIT = path.join(ROOT, 'deploy/systemd/ai-orchestrator-hub.service');

describe('deploy', function () {
  this.timeout(180_000);

  it('the unit passes systemd-analyze verify and scores at most 2.5 in systemd-analyze security', function () {
    requireTool(this, 'systemd-analyze', 'systemd');
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', UNIT], { encoding: 'utf8' });
    const score = Number(/Overall exposure level for .*: (\d+\.\d+)/.exec(r.stdout)?.[1]);
    assert.ok(score <= 2.5, `exposure ${score}: ${r.stdout.slice(-400)}`);
    const unit = readFileSync(UNIT, 'utf8');
    const stop = Number(/^TimeoutStopSec=(\d+)s$/m.exec(unit)?.[1]);
    const grace = Number(
      /^shutdown_grace_ms = (\d+)$/m.exec(readFileSync(path.join(ROOT, 'settings/default.toml'), 'utf8'))?.[1],
    );
    assert.ok(stop * 1000 > grace * 2, `TimeoutStopSec ${stop}s leaves room above shutdown_grace_ms ${grace}`);
  });

  it('the alert rules pass promtool check and their unit tests, and every metric they use is on a live scrape', async function () {
    requireTool(this, 'promtool', 'prometheus');
    execFileSync('promtool', ['check', 'rules', 'alerts.yml'], { cwd: path.join(ROOT, 'deploy/prometheus') });
    execFileSync('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: path.join(ROOT, 'deploy/prometheus') });
    const used = new Set(
      [...readFileSync(path.join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8').matchAll(/\b(hive_[a-z_]+)/g)].map(
        (m) => m[1]!.replace(/_bucket$/, ''),
      ),
    );
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-alerts-'));
    const hub = await startHub([], hubEnv({ HIVE_DATABASE_DATA_DIR: tmp, HIVE_SERVER_HOST: '127.0.0.1' }));
    try {
      const text = await (await fetch(`http://127.0.0.1:${hub.port}/metrics/prometheus`)).text();
      for (const name of used) assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is exported`);
      assert.match(text, /^hive_module_state\{module="task_management",state="running"\} 1$/m);
      assert.match(text, /^hive_database_up 1$/m);
    } finally {
      await hub.stop();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  describe('install.sh into a temporary root', () => {
    const user = 'aiohub-test';
    let root: string;
    let db: TestDatabase;
    const installed = (...p: string[]): string => path.join(root, ...p);
    before(async function () {
      if (process.getuid?.() !== 0) {
        if (process.env['CI'] === 'true') throw new Error('CI runs as root: install.sh needs it');
        console.log('skipping install.sh: it must run as root (it creates a system user)');
        this.skip();
      }
      await requirePostgres(this);
      db = await createTestDatabase();
      root = mkdtempSync(path.join(os.tmpdir(), 'hub-install-'));
      chmodSync(root, 0o755);
    });
    after(async () => {
      if (root === undefined) return;
      spawnSync(path.join(ROOT, 'deploy/install.sh'), ['--root', root, '--user', user, '--uninstall', '--purge'], {
        encoding: 'utf8',
      });
      rmSync(root, { recursive: true, force: true });
      await db?.drop();
    });
    const install = (...extra: string[]) =>
      spawnSync(path.join(ROOT, 'deploy/install.sh'), ['--root', root, '--user', user, '--no-systemctl', ...extra], {
        encoding: 'utf8',
      });

    it('installs the layout, idempotently, and the installed hub checks, starts and stops as the service user', async () => {
      const first = install();
      assert.equal(first.status, 0, first.stderr);
      const secret = readFileSync(installed('etc/ai-orchestrator-hub/env'), 'utf8');
      const again = install();
      assert.equal(again.status, 0, again.stderr);
      assert.equal(
        readFileSync(installed('etc/ai-orchestrator-hub/env'), 'utf8'),
        secret,
        'a second run keeps the generated secret',
      );
      assert.match(secret, /^HIVE_SECURITY_JWT_SECRET=[0-9a-f]{64}$/m);
      const mode = (p: string): string => (statSync(installed(p)).mode & 0o777).toString(8);
      assert.equal(mode('etc/ai-orchestrator-hub/env'), '600');
      assert.equal(mode('var/lib/ai-orchestrator-hub'), '750');
      assert.equal(mode('opt/ai-orchestrator-hub/ai-orchestrator-hub'), '755');
      assert.ok(existsSync(installed('opt/ai-orchestrator-hub/dist/src/main.js')), 'built');
      assert.ok(
        !existsSync(installed('opt/ai-orchestrator-hub/node_modules/typescript')),
        'production dependencies only',
      );
      const unit = installed('etc/systemd/system/ai-orchestrator-hub.service');
      assert.match(
        readFileSync(unit, 'utf8'),
        new RegExp(
          `^ExecStart=${installed('opt/ai-orchestrator-hub/ai-orchestrator-hub')} --config ${installed('etc/ai-orchestrator-hub/production.toml')}$`,
          'm',
        ),
      );
      if (has('systemd-analyze')) {
        const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
        assert.equal(verify.status, 0, verify.stderr);
        assert.equal(verify.stderr.trim(), '', 'systemd-analyze verify is clean');
      }
      if (has('logrotate')) {
        const lr = spawnSync(
          'logrotate',
          ['--debug', '--state', path.join(root, 'logrotate.state'), installed('etc/logrotate.d/ai-orchestrator-hub')],
          { encoding: 'utf8' },
        );
        assert.equal(lr.status, 0, lr.stderr);
      }

      const exe = installed('opt/ai-orchestrator-hub/ai-orchestrator-hub');
      const config = installed('etc/ai-orchestrator-hub/production.toml');
      const env = {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        DATABASE_URL: db.url,
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_SERVER_PORT: '0',
        HIVE_GRPC_PORT: '0',
      };
      const asUser = (args: string[], extra: Record<string, string> = {}) =>
        spawnSync('runuser', ['-u', user, '--', exe, ...args], {
          encoding: 'utf8',
          env: { ...env, ...extra },
          cwd: '/',
        });
      const check = asUser(['--config', config, '--check'], { HIVE_SECURITY_ADMIN_PASSWORD: 'installed admin pw' });
      assert.equal(check.status, 0, check.stdout + check.stderr);
      assert.match(check.stdout, /^profile: production /);
      assert.match(
        check.stdout,
        new RegExp(`data directory ${installed('var/lib/ai-orchestrator-hub')} writable by ${user}`),
      );
      const noAdmin = asUser(['--config', config, '--check']);
      assert.equal(noAdmin.status, 1, 'no users and no admin password: --check refuses as the start would');

      // Started as systemd would: the service user's uid and gid, the executable itself as the process (the wrapper execs node).
      const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
      const child = spawn(exe, ['--config', config], {
        env: { ...env, HIVE_SECURITY_ADMIN_PASSWORD: 'installed admin pw' },
        cwd: '/',
        uid,
        gid,
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const port = await waitFor(
        () => /"port":(\d+)[^\n]*hub listening/.exec(out)?.[1],
        60_000,
        `the installed hub to listen: ${out}`,
      );
      const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { data: { status: string } };
      assert.equal(health.data.status, 'healthy');
      assert.match(out, /"profile":"production"/);
      assert.doesNotMatch(out, /pool-echo/, 'a production hub starts no echo agents');
      child.kill('SIGTERM');
      assert.equal(await exited, 0, out);

      const removed = spawnSync(
        path.join(ROOT, 'deploy/install.sh'),
        ['--root', root, '--user', user, '--uninstall', '--no-systemctl'],
        { encoding: 'utf8' },
      );
      assert.equal(removed.status, 0, removed.stderr);
      assert.ok(!existsSync(installed('opt/ai-orchestrator-hub')) && !existsSync(unit));
      assert.ok(existsSync(config), '--uninstall keeps the configuration');
    });
  });
});
