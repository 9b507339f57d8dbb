/**
 * The one table of stable error codes. Each code maps to an HTTP status, a gRPC
 * status (numeric, from grpc's status enum) and whether a retry can help.
 * docs/errors.md lists every code; test/unit/test-errors.test.ts checks it.
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: { http: 400, grpc: 3, retryable: false, summary: 'A request field or value is invalid.' },
  CONFIG_INVALID: { http: 500, grpc: 9, retryable: false, summary: 'The configuration failed validation.' },
  UNAUTHENTICATED: {
    http: 401,
    grpc: 16,
    retryable: false,
    summary:
      'No valid credentials: a missing, malformed, tampered, expired or revoked token or API key, or a wrong password.',
  },
  FORBIDDEN: {
    http: 403,
    grpc: 7,
    retryable: false,
    summary: 'The principal is authenticated but its role does not allow this.',
  },
  RATE_LIMITED: {
    http: 429,
    grpc: 8,
    retryable: true,
    summary: 'Too many requests (or failed logins): retry after the Retry-After seconds.',
  },
  NOT_FOUND: { http: 404, grpc: 5, retryable: false, summary: 'The route or resource does not exist.' },
  AGENT_NOT_FOUND: { http: 404, grpc: 5, retryable: false, summary: 'No agent has this id.' },
  TASK_NOT_FOUND: { http: 404, grpc: 5, retryable: false, summary: 'No task has this id.' },
  MODULE_NOT_FOUND: { http: 404, grpc: 5, retryable: false, summary: 'No module has this name.' },
  AGENT_LIMIT_REACHED: {
    http: 409,
    grpc: 8,
    retryable: false,
    summary: 'The node already has [agents] max_agents agents.',
  },
  AGENT_PAUSED: {
    http: 409,
    grpc: 9,
    retryable: false,
    summary: 'The agent is paused and takes no new tasks (POST /api/agents/:id/resume).',
  },
  AGENT_BUSY: { http: 409, grpc: 9, retryable: true, summary: 'The agent already runs max_concurrency tasks.' },
  AGENT_NOT_LOCAL: {
    http: 409,
    grpc: 9,
    retryable: false,
    summary: 'The agent does not run on this node, so this node cannot hand it a task.',
  },
  CAPABILITY_MISMATCH: {
    http: 422,
    grpc: 9,
    retryable: false,
    summary: 'The agent lacks a capability the task requires (or its proficiency is below the minimum).',
  },
  CONFLICT: { http: 409, grpc: 6, retryable: false, summary: 'The resource already exists or changed meanwhile.' },
  INVALID_STATE: { http: 409, grpc: 9, retryable: false, summary: 'The resource is not in a state that allows this.' },
  QUEUE_FULL: {
    http: 503,
    grpc: 8,
    retryable: true,
    summary: 'A bounded queue (task queue or actor mailbox) is full.',
  },
  ACTOR_TIMEOUT: { http: 504, grpc: 4, retryable: true, summary: 'An actor did not answer within its deadline.' },
  DEADLINE_EXCEEDED: {
    http: 504,
    grpc: 4,
    retryable: true,
    summary: "The caller's deadline passed before the hub did the work; a call that arrives past it changes nothing.",
  },
  ACTOR_STOPPED: {
    http: 503,
    grpc: 14,
    retryable: true,
    summary: 'The actor addressed has stopped; the message is a dead letter.',
  },
  ACTOR_CRASHED: { http: 500, grpc: 13, retryable: true, summary: 'The actor crashed while handling the request.' },
  MODULE_UNAVAILABLE: { http: 503, grpc: 14, retryable: true, summary: 'The module is restarting or has failed.' },
  NODE_UNREACHABLE: {
    http: 503,
    grpc: 14,
    retryable: true,
    summary: 'The cluster node addressed is not a live member, or its link is down.',
  },
  DATABASE_UNAVAILABLE: { http: 503, grpc: 14, retryable: true, summary: 'The database cannot be reached.' },
  STORAGE_UNAVAILABLE: {
    http: 503,
    grpc: 14,
    retryable: true,
    summary:
      'The embedded store (SQLite) cannot write: the disk is full or the file is read-only; work resumes when space or access returns.',
  },
  DATABASE_ERROR: { http: 500, grpc: 13, retryable: false, summary: 'The database rejected a statement.' },
  STARTUP_FAILED: {
    http: 500,
    grpc: 13,
    retryable: false,
    summary: 'The hub could not start (port, data directory, database).',
  },
  METHOD_NOT_ALLOWED: {
    http: 405,
    grpc: 12,
    retryable: false,
    summary: 'The route exists but not for this HTTP method.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    http: 415,
    grpc: 3,
    retryable: false,
    summary: 'A request body must be JSON (Content-Type: application/json).',
  },
  NOT_IMPLEMENTED: {
    http: 501,
    grpc: 12,
    retryable: false,
    summary: 'The feature is turned off in this configuration (e.g. [neural] enabled = false).',
  },
  PAYLOAD_TOO_LARGE: {
    http: 413,
    grpc: 8,
    retryable: false,
    summary: 'The body is larger than [server] max_body_bytes.',
  },
  MODEL_INVALID: {
    http: 500,
    grpc: 9,
    retryable: false,
    summary: 'A neural model file is missing, unreadable, or does not meet its contract (inputs, outputs, shapes).',
  },
  INTERNAL: { http: 500, grpc: 13, retryable: false, summary: 'An unexpected error; the log has the details.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** True when `code` is one of the stable codes. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}
