export * from './agent.js';
export * from './task.js';
export * from './task-state.js';
export * from './capability.js';
export { invalid } from './validate.js';
export * from './retry.js';
export * from './task-history.js';
export * from './dependencies.js';
export { parseAnalyzeText, parseAnalyzeBatch, MAX_ANALYZE_CHARS, MAX_ANALYZE_BATCH } from './analyze.js';
