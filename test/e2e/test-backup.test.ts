/**
 * `backup` of a running hub under load and `restore` into a fresh store, on each
 * engine: every task acknowledged before the backup began, every agent, user and
 * API key is there when a hub starts on the restored store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hubEnv, runCli, startHub } from '../helpers/cli.js';
import { client } from '../helpers/http.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';

const ADMIN = 'backup admin password';

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`backup and restore (${engine})`, function () {
    this.timeout(90_000);
    const tmp = mkdtempSync(path.join(os.tmpdir(), `hub-backup-${engine}-`));
    const dbs: TestDatabase[] = [];
    const envOf = async (name: string, extra: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> => {
      const url = engine === 'postgres' ? dbs[dbs.push(await createTestDatabase()) - 1]!.url : '';
      return hubEnv({
        HIVE_DATABASE_DATA_DIR: path.join(tmp, name),
        HIVE_DATABASE_URL: url,
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_SECURITY_ENABLED: 'true',
        HIVE_SECURITY_JWT_SECRET: 'backup-secret-'.padEnd(64, 'b'),
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '1',
        ...extra,
      });
    };
    before(async function () {
      if (engine === 'postgres') await requirePostgres(this);
    });
    after(async () => {
      for (const db of dbs) await db.drop();
      rmSync(tmp, { recursive: true, force: true });
    });

    it('backs up a running hub under load; a hub on the restored store has every acknowledged task, agent, user and key', async () => {
      const source = await envOf('source', { HIVE_SECURITY_ADMIN_PASSWORD: ADMIN });
      const hub = await startHub([], source);
      const api = client(hub.port);
      const token = (await api.post('/auth/login', { username: 'admin', password: ADMIN })).body.data
        .access_token as string;
      const auth = { authorization: `Bearer ${token}` };
      assert.equal(
        (await api.post('/api/auth/users', { username: 'ops', password: 'ops password 12', roles: ['operator'] }, auth))
          .status,
        201,
      );
      const key = (await api.post('/api/auth/keys', { name: 'ci', role: 'operator' }, auth)).body.data.key as string;
      const agent = (
        await api.post('/api/agents', { name: 'backup-agent', capabilities: ['nothing-asks-for-this'] }, auth)
      ).body.data.id as string;

      // Load: submissions one after another, each with the time it was acknowledged.
      const acked: Array<{ id: string; at: number }> = [];
      let loading = true;
      const load = (async () => {
        for (let i = 0; loading; i++) {
          const r = await api.post('/api/tasks', { title: `load ${i}`, priority: i % 2 === 0 ? 'high' : 'low' }, auth);
          assert.equal(r.status, 201, JSON.stringify(r.body));
          acked.push({ id: r.body.data.id as string, at: Date.now() });
        }
      })();
      await new Promise((r) => setTimeout(r, 1500));
      const backupStarted = Date.now();
      const file = path.join(tmp, engine === 'sqlite' ? 'hub.backup.db' : 'hub.dump');
      const backup = await runCli(['backup', '--out', file], source, 60_000);
      const backupEnded = Date.now();
      await new Promise((r) => setTimeout(r, 300));
      loading = false;
      await load;
      assert.equal(backup.code, 0, backup.stderr);
      assert.match(
        backup.stdout,
        /^backup of .* written to .* \(\d+\.\d MiB in \d+\.\d s\): \d+ tasks, 2 agents, 2 users, 1 API keys\n$/,
      );
      const inBackup = Number(/(\d+) tasks/.exec(backup.stdout)![1]);
      const before = acked.filter((a) => a.at < backupStarted);
      const during = acked.filter((a) => a.at <= backupEnded);
      assert.ok(before.length > 20, `load ran before the backup (${before.length} tasks)`);
      assert.ok(
        inBackup >= before.length && inBackup <= during.length,
        `the backup holds ${inBackup} tasks: at least the ${before.length} acknowledged before it, at most the ${during.length} acknowledged by its end`,
      );
      assert.ok(acked.length > during.length, 'the hub kept accepting tasks while and after the backup ran');
      assert.equal(await hub.stop(), 0);
      assert.ok(statSync(file).size > 0);

      const target = await envOf('target');
      const restored = await runCli(['restore', file], target, 60_000);
      assert.equal(restored.code, 0, restored.stderr);
      assert.match(
        restored.stdout,
        new RegExp(
          `^restored .* in \\d+\\.\\d s \\(schema up to date\\): ${inBackup} tasks, 2 agents, 2 users, 1 API keys\\n$`,
        ),
      );
      const again = await runCli(['restore', file], target, 60_000);
      assert.equal(again.code, 1);
      assert.match(
        again.stderr,
        /is not empty \(\d+ tasks, 2 agents, 2 users, 1 API keys\); restore --force replaces everything in it/,
      );

      const revived = await startHub([], target);
      try {
        const api2 = client(revived.port);
        const login = await api2.post('/auth/login', { username: 'ops', password: 'ops password 12' });
        assert.equal(login.status, 200, 'the user restored with its password');
        const byKey = { 'x-api-key': key };
        const agents = (await api2.get('/api/agents?limit=1000', byKey)).body.data.agents as Array<{
          id: string;
          name: string;
        }>;
        assert.ok(
          agents.some((a) => a.id === agent && a.name === 'backup-agent'),
          'the agent and the API key restored',
        );
        const seen = new Set<string>();
        for (let offset = 0; ; offset += 1000) {
          const page = (await api2.get(`/api/tasks?limit=1000&offset=${offset}`, byKey)).body.data as {
            tasks: Array<{ id: string }>;
            total: number;
          };
          for (const t of page.tasks) seen.add(t.id);
          if (offset + 1000 >= page.total) break;
        }
        assert.equal(seen.size, inBackup);
        const missing = before.filter((a) => !seen.has(a.id));
        assert.deepEqual(missing, [], 'every task acknowledged before the backup began is restored');
      } finally {
        assert.equal(await revived.stop(), 0);
      }
    });

    it('refuses a backup of the other engine, a file that is no backup, and a restore while a hub runs on the store', async () => {
      const env = await envOf('refusals', { HIVE_SECURITY_ADMIN_PASSWORD: ADMIN });
      const junk = path.join(tmp, 'junk');
      writeFileSync(junk, 'not a backup at all');
      const notBackup = await runCli(['restore', junk], env);
      assert.equal(notBackup.code, 1);
      assert.match(
        notBackup.stderr,
        /is neither a backup of the embedded store \(SQLite\) nor a pg_dump custom-format file/,
      );
      const hub = await startHub([], env);
      try {
        const file = path.join(tmp, 'refusal.backup');
        assert.equal((await runCli(['backup', '--out', file], env, 60_000)).code, 0);
        const busy = await runCli(['restore', '--force', file], env);
        assert.equal(busy.code, 1);
        assert.match(busy.stderr, /a hub is running on .*: stop it \(every node of a cluster\) before restoring/);
        // The engines are compared before anything is opened: the other engine's store need not even exist.
        const other =
          engine === 'sqlite'
            ? { ...env, HIVE_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }
            : { ...env, HIVE_DATABASE_URL: '', HIVE_DATABASE_DATA_DIR: path.join(tmp, 'other') };
        const wrong = await runCli(['restore', file], other);
        assert.equal(wrong.code, 1);
        assert.match(wrong.stderr, /restore it into a store of the same engine/);
      } finally {
        assert.equal(await hub.stop(), 0);
      }
    });
  });
}
