import type { HubError } from '../errors/index.js';
import { toHubError } from '../errors/index.js';

/** The success envelope of every JSON response. */
export function ok(data: unknown): { success: true; data: unknown; timestamp: string } {
  return { success: true, data, timestamp: new Date().toISOString() };
}

/** The failure envelope: a stable code, a message, optional details. */
export function failure(err: unknown): { status: number; body: unknown } {
  const e: HubError = toHubError(err);
  const error: Record<string, unknown> = {
    code: e.code,
    message: e.code === 'INTERNAL' ? 'internal error; see the hub log' : e.message,
  };
  if (e.details !== undefined) error['details'] = e.details;
  return { status: e.httpStatus, body: { success: false, error, timestamp: new Date().toISOString() } };
}
