export * from './store.js';
export { openStore, describeStore, prepareDataDir, checkDataDir } from './open-store.js';
export { isUuid } from './sql/sql-store.js';
