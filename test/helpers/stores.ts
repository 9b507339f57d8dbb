/** Both store engines for tests that run on each: an in-memory SQLite store, and a PostgreSQL store on a database of its own. */
import { openSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { openPostgresStore } from '../../src/storage/postgres/postgres-store.js';
import type { Store } from '../../src/storage/index.js';
import { createTestDatabase } from './postgres.js';
import { memoryLogger } from './logs.js';

export interface OpenedStore {
  store: Store;
  /** PostgreSQL only: another store on the same database (another node). */
  another?: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

export const STORE_ENGINES: Array<{ name: 'sqlite' | 'postgres'; open: () => Promise<OpenedStore> }> = [
  {
    name: 'sqlite',
    open: async () => {
      const store = openSqliteStore(':memory:');
      await store.migrate();
      return { store, cleanup: () => store.close() };
    },
  },
  {
    name: 'postgres',
    open: async () => {
      const db = await createTestDatabase();
      const { log } = memoryLogger();
      const opened: Store[] = [];
      const make = async (): Promise<Store> => {
        const s = openPostgresStore({
          url: db.url,
          maxConnections: 4,
          minConnections: 0,
          connectionTimeoutMs: 5000,
          idleTimeoutMs: 10000,
          log,
        });
        opened.push(s);
        await s.migrate();
        return s;
      };
      const store = await make();
      return {
        store,
        another: make,
        cleanup: async () => {
          await Promise.all(opened.map((s) => s.close()));
          await db.drop();
        },
      };
    },
  },
];
