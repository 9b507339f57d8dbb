/**
 * One process per node id. A node holds an exclusive lock on its id before it
 * touches any lease, and as long as it runs:
 * - PostgreSQL: a session advisory lock on a dedicated connection (keys: a fixed
 *   namespace and hashtext(node_id)); it ends with the session, so a killed process
 *   leaves no stale lock. A dropped connection (a database restart) is reopened and
 *   the lock taken again.
 * - SQLite: an exclusive lock on `<data_dir>/node.lock`, a SQLite file held in an
 *   open exclusive transaction; the operating system drops it when the process dies.
 * A second process with the same id (or data directory) refuses to start.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { HubError, errorMessage } from '../errors/index.js';
import type { Logger } from '../log/logger.js';

const LOCK_NAMESPACE = 7274732;

export interface NodeLock {
  release(): Promise<void>;
}

/** Takes the node's lock, or throws STARTUP_FAILED naming the node and what holds it. */
export async function acquireNodeLock(o: {
  url: string;
  dataDir: string;
  nodeId: string;
  log: Logger;
}): Promise<NodeLock> {
  if (o.url !== '') return acquirePostgresLock(o.url, o.nodeId, o.log);
  if (o.dataDir === ':memory:') return { release: () => Promise.resolve() };
  return acquireSqliteLock(o.dataDir);
}

function refused(nodeId: string, holder: string): HubError {
  return new HubError(
    'STARTUP_FAILED',
    `node id "${nodeId}" is already in use by another running process (${holder}); stop it first, or give this process its own [cluster] node_id`,
  );
}

function acquireSqliteLock(dataDir: string): NodeLock {
  const file = path.join(dataDir, 'node.lock');
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS node_lock (pid INTEGER)');
    db.exec('BEGIN EXCLUSIVE');
    db.prepare('DELETE FROM node_lock').run();
    db.prepare('INSERT INTO node_lock (pid) VALUES (?)').run(process.pid);
  } catch (err) {
    db.close();
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') throw refused('(this data directory)', `it holds ${file}`);
    throw new HubError('STARTUP_FAILED', `cannot lock ${file}: ${errorMessage(err)}`, { cause: err });
  }
  return {
    release: () => {
      db.close();
      return Promise.resolve();
    },
  };
}

async function lockOn(client: pg.Client, nodeId: string): Promise<boolean> {
  const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
    LOCK_NAMESPACE,
    nodeId,
  ]);
  return r.rows[0]?.ok === true;
}

async function acquirePostgresLock(url: string, nodeId: string, log: Logger): Promise<NodeLock> {
  let released = false;
  let client: pg.Client | undefined;
  const open = async (): Promise<boolean> => {
    const c = new pg.Client({
      connectionString: url,
      application_name: 'ai-orchestrator-hub-lock',
      connectionTimeoutMillis: 4000,
    });
    // The lock connection's own failures are handled here: never an uncaught 'error' event.
    c.on('error', (err) => {
      if (released) return;
      log.warn(
        { event: 'node_lock.lost' },
        `the node lock's connection dropped (${err.message}); taking the lock again`,
      );
      void c.end().catch(() => undefined);
      if (client === c) client = undefined;
      setTimeout(retake, 1000).unref();
    });
    await c.connect();
    if (!(await lockOn(c, nodeId))) {
      await c.end();
      return false;
    }
    client = c;
    return true;
  };
  const retake = (): void => {
    if (released || client !== undefined) return;
    open().then(
      (ok) => {
        if (ok) log.info({ event: 'node_lock.retaken' }, `node lock for "${nodeId}" held again`);
        else
          log.error(
            { event: 'node_lock.taken_by_other' },
            `another process took node id "${nodeId}" while this one was disconnected; stop one of them`,
          );
        if (!ok) setTimeout(retake, 1000).unref();
      },
      () => setTimeout(retake, 1000).unref(),
    );
  };
  if (!(await open())) throw refused(nodeId, 'it holds the PostgreSQL advisory lock for this node id');
  return {
    release: async () => {
      released = true;
      await client?.end().catch(() => undefined);
    },
  };
}
