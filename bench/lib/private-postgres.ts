/**
 * A PostgreSQL server of the test's own (initdb into a temporary directory, run as
 * user postgres on a free port), for tests that stop, restart or kill the database.
 * The machine's shared server is never touched.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/** Where Debian keeps the server binaries (newest version first), or undefined. */
function pgBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(path.join(base, v, 'bin', 'initdb'))) return path.join(base, v, 'bin');
  return undefined;
}

/** Undefined when a private server can be made here; otherwise why not. */
export function privatePostgresUnavailableReason(): string | undefined {
  if (pgBinDir() === undefined) return 'no PostgreSQL server binaries under /usr/lib/postgresql';
  if (process.getuid?.() !== 0) {
    const whoami = spawnSync('whoami', { encoding: 'utf8' }).stdout.trim();
    if (whoami !== 'postgres') return 'a private PostgreSQL server needs root (to run initdb as user postgres)';
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function asPostgres(bin: string, args: string[]): void {
  const cmd = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  execFileSync(cmd[0] as string, cmd[1] as string[], { stdio: ['ignore', 'ignore', 'pipe'], cwd: os.tmpdir() });
}

export interface PrivatePostgres {
  port: number;
  /** Superuser URL of database `postgres` (trust auth on 127.0.0.1). */
  adminUrl: string;
  /** URL of a database created for the test. */
  url(db: string): string;
  createDatabase(db: string): Promise<string>;
  start(): void;
  /** pg_ctl stop -m fast (every backend terminated with "administrator command"). */
  stop(): void;
  restart(): void;
  /** Terminates every backend of `application_name` (pg_terminate_backend). */
  terminate(applicationName: string): Promise<number>;
  destroy(): void;
}

/** initdb, start, and return the handle. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = pgBinDir();
  if (bin === undefined) throw new Error('no PostgreSQL server binaries');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hive-pg-'));
  if (process.getuid?.() === 0)
    chownSync(
      dir,
      Number(execFileSync('id', ['-u', 'postgres']).toString()),
      Number(execFileSync('id', ['-g', 'postgres']).toString()),
    );
  const data = path.join(dir, 'data');
  const port = await freePort();
  asPostgres(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const ctl = (args: string[]): void => asPostgres(path.join(bin, 'pg_ctl'), ['-D', data, '-w', '-t', '30', ...args]);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const url = (db: string): string => `postgres://postgres@127.0.0.1:${port}/${db}`;
  // A test or bench that dies before destroy() leaves no server running behind it.
  const onExit = (): void => {
    try {
      asPostgres(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
    } catch {
      // Already stopped.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const handle: PrivatePostgres = {
    port,
    adminUrl,
    url,
    async createDatabase(db) {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`CREATE DATABASE ${db}`);
      await c.end();
      return url(db);
    },
    start: () => ctl(['-o', opts, '-l', path.join(dir, 'log'), 'start']),
    stop: () => ctl(['-m', 'fast', 'stop']),
    restart() {
      handle.stop();
      handle.start();
    },
    async terminate(applicationName) {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      const r = await c.query(
        'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name LIKE $1',
        [`${applicationName}%`],
      );
      await c.end();
      return Number((r.rows[0] as { n: number }).n);
    },
    destroy() {
      process.removeListener('exit', onExit);
      try {
        handle.stop();
      } catch {
        // Already stopped: nothing to do but remove its files.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  handle.start();
  process.once('exit', onExit);
  return handle;
}
