/** The error table mapped to gRPC: status from ERROR_CODES, the stable code in trailing metadata. */
import * as grpc from '@grpc/grpc-js';
import { toHubError } from '../errors/index.js';

export const ERROR_CODE_KEY = 'hive-error-code';
/** The field a VALIDATION_FAILED names (the same name as over HTTP, `error.details.field`). */
export const ERROR_FIELD_KEY = 'hive-error-field';

export function toServiceError(err: unknown): Partial<grpc.StatusObject> {
  const e = toHubError(err);
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_KEY, e.code);
  const field = e.details?.['field'];
  if (typeof field === 'string') metadata.set(ERROR_FIELD_KEY, field);
  return {
    code: e.grpcStatus,
    details: e.code === 'INTERNAL' ? 'internal error; see the hub log' : e.message,
    metadata,
  };
}
