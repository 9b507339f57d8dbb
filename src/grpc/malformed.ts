/**
 * Malformed protobuf is bad input, not an internal error: grpc-js answers a
 * request it cannot deserialize with INTERNAL, so the hub's services
 * deserialize through this wrapper, which turns the failure into a marker that
 * handlers refuse with INVALID_ARGUMENT (VALIDATION_FAILED), changing nothing.
 */
import type * as grpc from '@grpc/grpc-js';
import { HubError } from '../errors/index.js';

export const MALFORMED = '__hive_malformed__';

export function isMalformed(message: unknown): boolean {
  return typeof message === 'object' && message !== null && MALFORMED in message;
}

export function malformedError(message: unknown): HubError {
  return new HubError(
    'VALIDATION_FAILED',
    `(message): malformed protobuf: ${String((message as Record<string, unknown>)[MALFORMED])}`,
    { details: { field: '(message)' } },
  );
}

/** The service definition with deserializers that never throw. */
export function tolerant(def: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(def)) {
    const m = method as grpc.MethodDefinition<unknown, unknown>;
    out[name] = {
      ...m,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return m.requestDeserialize(bytes);
        } catch (err) {
          return { [MALFORMED]: err instanceof Error ? err.message.slice(0, 200) : 'undecodable' };
        }
      },
    };
  }
  return out;
}
