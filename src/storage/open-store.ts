import { accessSync, constants, existsSync, mkdirSync, statSync, writeFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import type { HubConfig } from '../config/index.js';
import { HubError, errorMessage } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { redactUrl } from '../log/redact.js';
import type { Store } from './store.js';
import { policyFrom } from '../domain/index.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import { openPostgresStore } from './postgres/postgres-store.js';

const STARTUP_PROBE_MS = 4000;

/** Describes where the store lives, with any password hidden. */
export function describeStore(config: HubConfig): string {
  if (config.database.url === '') return `sqlite:${sqliteFile(config)}`;
  return redactUrl(config.database.url);
}

export function sqliteFile(config: HubConfig): string {
  return config.database.data_dir === ':memory:' ? ':memory:' : path.join(config.database.data_dir, 'hive.db');
}

/** Creates the data directory if needed and proves it writable; fails with the path. */
export function prepareDataDir(dir: string): void {
  if (dir === ':memory:') return;
  try {
    mkdirSync(dir, { recursive: true });
    const probe = path.join(dir, `.write-probe-${process.pid}`);
    writeFileSync(probe, 'ok');
    unlinkSync(probe);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? errorMessage(err);
    throw new HubError(
      'STARTUP_FAILED',
      `data directory ${path.resolve(dir)} is not writable (${code}); fix its permissions or set [database] data_dir`,
      {
        cause: err,
      },
    );
  }
}

/** Like prepareDataDir but changes nothing: the directory (or the nearest existing parent) must be writable. */
export function checkDataDir(dir: string): void {
  if (dir === ':memory:') return;
  let probe = path.resolve(dir);
  while (!existsSync(probe)) probe = path.dirname(probe);
  try {
    if (!statSync(probe).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(probe, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? errorMessage(err);
    throw new HubError('STARTUP_FAILED', `data directory ${path.resolve(dir)} is not writable (${code} at ${probe})`, {
      cause: err,
    });
  }
}

/**
 * Opens the configured engine and proves it reachable: SQLite in data_dir when
 * database.url is empty, PostgreSQL otherwise. An unreachable database fails
 * with the URL (password hidden) and the cause.
 */
export async function openStore(config: HubConfig, log: Logger): Promise<Store> {
  const store =
    config.database.url === ''
      ? openSqliteStore(sqliteFile(config))
      : openPostgresStore({
          url: config.database.url,
          maxConnections: config.database.max_connections,
          minConnections: config.database.min_connections,
          connectionTimeoutMs: config.database.connection_timeout_seconds * 1000,
          idleTimeoutMs: config.database.idle_timeout_seconds * 1000,
          log,
        });
  store.configureFlow(policyFrom(config.flow));
  try {
    // Start-up must fail within seconds, even when packets to the host are dropped.
    const capMs = Math.min(STARTUP_PROBE_MS, config.database.connection_timeout_seconds * 1000);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${capMs} ms`)), capMs);
    });
    await Promise.race([store.ping(), timeout]).finally(() => clearTimeout(timer));
  } catch (err) {
    await store
      .close()
      .catch((closeErr: unknown) => log.warn({ err: closeErr }, 'closing the unreachable store failed'));
    throw new HubError('DATABASE_UNAVAILABLE', `database unreachable at ${describeStore(config)}: ${causeOf(err)}`, {
      cause: err,
    });
  }
  return store;
}

function causeOf(err: unknown): string {
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  const code = (cause as { code?: unknown }).code;
  const text = errorMessage(cause).replace(/^database (unavailable|error): /, '');
  return typeof code === 'string' && !text.includes(code) ? `${code} ${text}` : text;
}
