export * from './store.js';
export { openStore, describeStore, prepareDataDir, checkDataDir } from './open-store.js';
export { isUuid } from './sql/sql-store.js';
export { writeIsolating, type IsolatedWrite } from './write-isolating.js';
export { inBatches, keepPruning, type Pruning } from './retention.js';
export { OutageTracker } from './outage.js';
export { acquireNodeLock, type NodeLock } from './node-lock.js';
export { backupStore, restoreStore, backupFormat, type BackupReport, type RestoreReport } from './backup.js';
