import type { NewTask } from '../../src/domain/index.js';

/** A valid NewTask for in-process tests: no capabilities, 3 attempts, 10 s; `over` replaces fields. */
export function newTask(over: Partial<NewTask> = {}): NewTask {
  return {
    title: 't',
    description: '',
    type: 'general',
    priority: 'medium',
    required_capabilities: [],
    payload: null,
    max_attempts: 3,
    timeout_ms: 10_000,
    run_at: null,
    idempotency_key: null,
    depends_on: [],
    ...over,
  };
}
