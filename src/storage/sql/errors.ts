import { HubError, errorMessage } from '../../errors/index.js';
import { redactText } from '../../log/redact.js';

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EPIPE',
  '57P01',
  '57P03',
  '53300',
  // A deadlock or a serialization failure aborts the transaction and nothing of it is stored: try it again (as after an outage).
  '40P01',
  '40001',
]);

/** SQLite cannot write (disk full, read-only file or directory, I/O error); PostgreSQL out of disk (53100). */
const STORAGE_FULL_CODES = new Set([
  'SQLITE_FULL',
  'SQLITE_READONLY',
  'SQLITE_READONLY_DBMOVED',
  'SQLITE_IOERR',
  'SQLITE_IOERR_WRITE',
  'SQLITE_IOERR_FSYNC',
  'SQLITE_CANTOPEN',
  '53100',
]);

/** Maps a driver error to the hub's codes: connection trouble is retryable, constraint clashes are conflicts. */
export function toStoreError(err: unknown): HubError {
  if (err instanceof HubError) return err;
  const code = (err as { code?: unknown }).code;
  const message = redactText(errorMessage(err));
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) {
    return new HubError('DATABASE_UNAVAILABLE', `database unavailable: ${message}`, { cause: err });
  }
  if (/timeout|terminated|Connection terminated/i.test(message) && code === undefined) {
    return new HubError('DATABASE_UNAVAILABLE', `database unavailable: ${message}`, { cause: err });
  }
  if (typeof code === 'string' && STORAGE_FULL_CODES.has(code)) {
    return new HubError('STORAGE_UNAVAILABLE', `storage unavailable (${code}): ${message}`, { cause: err });
  }
  if (code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return new HubError('CONFLICT', `conflict: ${message}`, { cause: err });
  }
  return new HubError('DATABASE_ERROR', `database error: ${message}`, { cause: err });
}
