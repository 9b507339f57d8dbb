export * from './load.js';
export * from './schema.js';
export type * from './types.js';
export type { ConfigProblem } from './check-value.js';
export { packageRoot } from './package-root.js';
export { stderrIsJournal, stdoutIsJournal } from './journal.js';
export { inertKeys } from './inert.js';
