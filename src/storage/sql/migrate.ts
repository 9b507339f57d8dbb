import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Dialect, Executor } from './executor.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Reads NNN_name.sql files from a folder, in version order. */
export function loadMigrations(dir: string): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({
      version: Number(f.slice(0, 3)),
      name: f.replace(/\.sql$/, ''),
      sql: readFileSync(path.join(dir, f), 'utf8'),
    }));
}

/**
 * Applies every migration not yet in schema_migrations, all in one transaction
 * (graphile-worker style): either all of them land or none does.
 */
export async function runMigrations(
  db: Executor,
  dialect: Dialect,
  migrations: readonly Migration[],
): Promise<number[]> {
  return db.transaction(async (tx) => {
    if (dialect.migrationLock !== undefined) await tx.all(dialect.migrationLock);
    await tx.run(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)',
    );
    const done = new Set((await tx.all('SELECT version FROM schema_migrations')).map((r) => Number(r['version'])));
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        m.version,
        m.name,
        new Date().toISOString(),
      ]);
      applied.push(m.version);
    }
    return applied;
  });
}
