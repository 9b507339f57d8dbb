/** Writes docs/errors.md from the error table and the task failure codes: `npx tsx scripts/gen-errors-doc.ts`. */
import { writeFileSync } from 'node:fs';
import { ERROR_CODES } from '../src/errors/index.js';
import { TASK_FAILURE_CODES } from '../src/engine/handler.js';

const GRPC = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

const lines = [
  '# Error codes',
  '',
  'Every error the hub returns carries a stable code. HTTP responses use the envelope',
  '`{"success": false, "error": {"code", "message", "details"?}, "timestamp"}`;',
  'gRPC answers use the status below with the code in the trailing metadata key `hive-error-code` (docs/grpc.md). Retryable codes may succeed when tried again.',
  '',
  '| code | HTTP | gRPC | retryable | meaning |',
  '| --- | --- | --- | --- | --- |',
  ...Object.entries(ERROR_CODES).map(
    ([code, e]) =>
      `| \`${code}\` | ${e.http} | ${GRPC[e.grpc]} (${e.grpc}) | ${e.retryable ? 'yes' : 'no'} | ${e.summary} |`,
  ),
  '',
  'Validation errors name the field in the message (`title: is required`) and in `details.field`.',
  '5xx errors are logged at `error`, 4xx at `debug`. `INTERNAL` answers never carry the underlying message; the log has it.',
  'Every 503 answer carries `Retry-After`. Outages (`DATABASE_UNAVAILABLE`, `STORAGE_UNAVAILABLE`) are logged once per component as `storage.unavailable`, not per request.',
  '',
  '`VALIDATION_FAILED` also covers values no store can hold, refused at the edge on both engines and transports: a NUL character (U+0000) in any string, JSON key or value, or Idempotency-Key, and a payload nested deeper than 64 levels. The message names the path (`payload.a[1].b: must not contain the NUL character (U+0000)`).',
  '',
  '## Task failure codes',
  '',
  "A task that ends `failed` has `error {code, message, retryable}`; these are its codes (the handler's own codes pass through when it throws a TaskFailure with one).",
  '',
  '| code | retryable | meaning |',
  '| --- | --- | --- |',
  ...Object.entries(TASK_FAILURE_CODES).map(([code, e]) => `| \`${code}\` | ${e.retryable} | ${e.summary} |`),
  '',
];
writeFileSync(new URL('../docs/errors.md', import.meta.url), lines.join('\n'));
