import Database from 'better-sqlite3';
import { fileURLToPath } from 'node:url';
import { SqlStore } from '../sql/sql-store.js';
import { loadMigrations } from '../sql/migrate.js';
import type { Dialect } from '../sql/executor.js';
import { SqliteExecutor } from './sqlite-executor.js';

export const sqliteDialect: Dialect = {
  engine: 'sqlite',
  decodesJson: false,
  claimLock: '',
  rowLock: '',
  insertOrder: 'rowid',
  jsonArrayHasName: (column) => `EXISTS (SELECT 1 FROM json_each(${column}) WHERE json_extract(value, '$.name') = ?)`,
  jsonArrayHasNameParam: (name) => name,
  capabilitiesMet: (column) =>
    `NOT EXISTS (SELECT 1 FROM json_each(${column}) r WHERE COALESCE(json_extract(?, '$."' || json_extract(r.value, '$.name') || '"'), -1) < json_extract(r.value, '$.min_proficiency'))`,
  idempotencyConflict: 'ON CONFLICT (idempotency_key)',
  bool: (v) => (v ? 1 : 0),
  migrationLock: undefined,
  keysHeld: (holding) =>
    `SELECT j.value AS key, count(*) AS n FROM tasks t, json_each(t.concurrency_keys) j
     WHERE t.${holding} AND t.concurrency_keys IS NOT NULL GROUP BY j.value`,
  noKeyIn: (column) =>
    `(${column} IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(${column}) WHERE value IN (SELECT value FROM json_each(?))))`,
  keysParam: (keys) => JSON.stringify(keys),
  idIn: (column) => `${column} IN (SELECT value FROM json_each(?))`,
  idsParam: (ids) => JSON.stringify(ids),
  flowLock: undefined,
  jsonText: (column, field) => `json_extract(${column}, '$.${field}')`,
};

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/** The embedded store. Migrations run with defensive mode off: 009 widens a CHECK constraint by editing the schema text (the only way SQLite has). */
class SqliteStore extends SqlStore {
  constructor(
    private readonly file: Database.Database,
    ...rest: ConstructorParameters<typeof SqlStore>
  ) {
    super(...rest);
  }

  override async migrate(): Promise<number[]> {
    this.file.unsafeMode(true);
    try {
      return await super.migrate();
    } finally {
      this.file.unsafeMode(false);
    }
  }
}

/**
 * Opens the embedded store: a file (WAL, synchronous=FULL so an acknowledged
 * write survives a crash) or ':memory:' for tests.
 */
export function openSqliteStore(file: string): SqlStore {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  const executor = new SqliteExecutor(db);
  return new SqliteStore(
    db,
    executor,
    sqliteDialect,
    loadMigrations(MIGRATIONS_DIR),
    () => ({ total: 1, idle: executor.waiting === 0 ? 1 : 0, waiting: executor.waiting }),
    () => {
      db.close();
      return Promise.resolve();
    },
  );
}
