/**
 * Backup and restore of the configured store, safe while a hub runs.
 *
 * - SQLite: SQLite's online backup API from a connection of our own (a reader
 *   in WAL mode sees one committed state, WAL included), into a single
 *   self-contained file (journal_mode DELETE), checked and renamed into place.
 * - PostgreSQL: `pg_dump -Fc` on a snapshot exported by a repeatable-read
 *   transaction, which also counts the rows: the counts printed are exactly what
 *   the dump holds. The file is an ordinary custom-format dump, so
 *   `pg_restore --clean --if-exists -d hive_db FILE` restores it too.
 *
 * Restore refuses a store that holds anything unless forced, and takes the node
 * lock: a hub running on the store makes it refuse, having changed nothing.
 */
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { HubConfig } from '../config/index.js';
import { HubError, errorMessage } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { redactUrl } from '../log/redact.js';
import { acquireNodeLock, type NodeLock } from './node-lock.js';
import { describeStore, openStore, prepareDataDir, sqliteFile } from './open-store.js';
import type { StoreContents } from './store.js';
import { CONTENTS_SQL, rowToContents } from './sql/rows.js';

export interface BackupReport {
  file: string;
  engine: 'sqlite' | 'postgres';
  bytes: number;
  ms: number;
  contents: StoreContents;
}

/** Writes a backup of the configured store to `file` (atomically: a temporary file renamed at the end). */
export async function backupStore(
  config: HubConfig,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<BackupReport> {
  const started = performance.now();
  const target = path.resolve(file);
  const tmp = `${target}.partial-${process.pid}`;
  try {
    const contents =
      config.database.url === ''
        ? await backupSqlite(config, tmp)
        : await backupPostgres(config.database.url, tmp, env);
    renameSync(tmp, target);
    return {
      file: target,
      engine: config.database.url === '' ? 'sqlite' : 'postgres',
      bytes: statSync(target).size,
      ms: performance.now() - started,
      contents,
    };
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

async function backupSqlite(config: HubConfig, tmp: string): Promise<StoreContents> {
  const source = sqliteFile(config);
  if (source === ':memory:' || !existsSync(source))
    throw new HubError('NOT_FOUND', `no embedded database at ${source} to back up ([database] data_dir)`);
  const db = new Database(source, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    // All remaining pages in each step: a step is one read transaction, so the copy is
    // one committed state; a write between the first two steps restarts it once.
    await db.backup(tmp, { progress: ({ totalPages }) => Math.max(totalPages, 100) });
  } finally {
    db.close();
  }
  const copy = new Database(tmp);
  try {
    copy.pragma('journal_mode = DELETE');
    const check = copy.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new HubError('INTERNAL', `the backup copy failed its integrity check: ${String(check)}`);
    return rowToContents(copy.prepare(CONTENTS_SQL).get() as Record<string, unknown>);
  } finally {
    copy.close();
  }
}

/** libpq-style environment for pg_dump / pg_restore: the password travels in PGPASSWORD, never on a command line (ps shows those). */
function pgTool(
  url: string,
  env: Readonly<Record<string, string | undefined>>,
): { args: string[]; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { args: ['--dbname', u.toString()], env: { ...env, ...(password !== '' ? { PGPASSWORD: password } : {}) } };
}

function runTool(tool: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        new HubError(
          'STARTUP_FAILED',
          err.code === 'ENOENT'
            ? `${tool} not found: install the PostgreSQL client tools (postgresql-client), of the server's major version or newer`
            : `${tool}: ${err.message}`,
        ),
      ),
    );
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(
            new HubError('INTERNAL', `${tool} exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`),
          ),
    );
  });
}

async function backupPostgres(
  url: string,
  tmp: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<StoreContents> {
  const client = new pg.Client({ connectionString: url });
  await client.connect().catch((err: unknown) => {
    throw new HubError('DATABASE_UNAVAILABLE', `database unreachable at ${redactUrl(url)}: ${errorMessage(err)}`);
  });
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snapshot = (await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
    const contents = rowToContents((await client.query(CONTENTS_SQL)).rows[0] as Record<string, unknown>);
    const tool = pgTool(url, env);
    await runTool(
      'pg_dump',
      ['--format=custom', '--no-owner', '--no-privileges', `--snapshot=${snapshot}`, '--file', tmp, ...tool.args],
      tool.env,
    );
    await client.query('COMMIT');
    return contents;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** What a backup file is, from its first bytes. */
export function backupFormat(file: string): 'sqlite' | 'postgres' {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new HubError(
      'NOT_FOUND',
      `cannot read the backup ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`,
    );
  }
  const head = Buffer.alloc(16);
  try {
    readSync(fd, head, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (head.subarray(0, 16).toString('latin1') === 'SQLite format 3\0') return 'sqlite';
  if (head.subarray(0, 5).toString('latin1') === 'PGDMP') return 'postgres';
  throw new HubError(
    'VALIDATION_FAILED',
    `${file} is neither a backup of the embedded store (SQLite) nor a pg_dump custom-format file`,
    { details: { field: 'FILE' } },
  );
}

export interface RestoreReport {
  engine: 'sqlite' | 'postgres';
  ms: number;
  applied: number[];
  contents: StoreContents;
}

/**
 * Restores `file` into the configured store, then migrates it. Refuses a store
 * that holds tasks, agents, users or keys unless `force`, and refuses while a
 * hub of this node id runs on it (the node lock).
 */
export async function restoreStore(
  config: HubConfig,
  file: string,
  o: { force: boolean; log: Logger; env: Readonly<Record<string, string | undefined>> },
): Promise<RestoreReport> {
  const { force, log } = o;
  const started = performance.now();
  const engine = config.database.url === '' ? 'sqlite' : 'postgres';
  const format = backupFormat(file);
  if (format !== engine) {
    throw new HubError(
      'VALIDATION_FAILED',
      `${file} is a ${format === 'sqlite' ? 'backup of the embedded store' : 'PostgreSQL dump'}, but the configured store is ${describeStore(config)}; restore it into a store of the same engine`,
      { details: { field: 'FILE' } },
    );
  }
  const lock = await restoreLock(config, log);
  try {
    const before = await openStore(config, log);
    const held = await before.contents().finally(() => before.close());
    const total = held.tasks + held.agents + held.users + held.api_keys;
    if (total > 0 && !force) {
      throw new HubError(
        'CONFLICT',
        `the store ${describeStore(config)} is not empty (${held.tasks} tasks, ${held.agents} agents, ${held.users} users, ${held.api_keys} API keys); restore --force replaces everything in it`,
      );
    }
    if (engine === 'sqlite') restoreSqlite(config, file);
    else await restorePostgres(config, file, o.env);
    const after = await openStore(config, log);
    try {
      const applied = await after.migrate();
      return { engine, ms: performance.now() - started, applied, contents: await after.contents() };
    } finally {
      await after.close();
    }
  } finally {
    await lock.release();
  }
}

/** The node lock, held for the restore: refused while a hub of this node id runs on the store. */
async function restoreLock(config: HubConfig, log: Logger): Promise<NodeLock> {
  prepareDataDir(config.database.data_dir);
  return acquireNodeLock({
    url: config.database.url,
    dataDir: config.database.data_dir,
    nodeId: config.cluster.node_id,
    log,
  }).catch((err: unknown) => {
    throw new HubError(
      'CONFLICT',
      `a hub is running on ${describeStore(config)}: stop it (every node of a cluster) before restoring; ${errorMessage(err)}`,
    );
  });
}

/** pg_restore of a custom-format dump, in one transaction, replacing what the database holds. */
async function restorePostgres(
  config: HubConfig,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<void> {
  const tool = pgTool(config.database.url, env);
  const args = ['--clean', '--if-exists', '--no-owner', '--no-privileges', '--single-transaction', '--exit-on-error'];
  await runTool('pg_restore', [...args, ...tool.args, file], tool.env);
}

/** Checks the copy, then replaces hive.db (and its WAL files) by it through a rename. */
function restoreSqlite(config: HubConfig, file: string): void {
  const target = sqliteFile(config);
  const check = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const ok = check.pragma('quick_check', { simple: true });
    if (ok !== 'ok')
      throw new HubError('VALIDATION_FAILED', `the backup ${file} failed its integrity check: ${String(ok)}`, {
        details: { field: 'FILE' },
      });
    if (check.prepare("SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'").get() === undefined) {
      throw new HubError(
        'VALIDATION_FAILED',
        `${file} is an SQLite file but not a hub backup (no schema_migrations table)`,
        { details: { field: 'FILE' } },
      );
    }
  } finally {
    check.close();
  }
  const tmp = `${target}.restore-${process.pid}`;
  copyFileSync(file, tmp);
  for (const suffix of ['-wal', '-shm']) rmSync(`${target}${suffix}`, { force: true });
  renameSync(tmp, target);
}
