/** The error table mapped to gRPC: status from ERROR_CODES, the stable code in trailing metadata. */
import * as grpc from '@grpc/grpc-js';
import { toHubError } from '../errors/index.js';

export const ERROR_CODE_KEY = 'hive-error-code';

export function toServiceError(err: unknown): Partial<grpc.StatusObject> {
  const e = toHubError(err);
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_KEY, e.code);
  return {
    code: e.grpcStatus,
    details: e.code === 'INTERNAL' ? 'internal error; see the hub log' : e.message,
    metadata,
  };
}
