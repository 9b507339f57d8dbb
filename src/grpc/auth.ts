/**
 * Every RPC checks its permission (src/auth/permissions.ts) before its handler
 * runs: credentials from `authorization: Bearer …` or `x-api-key` metadata.
 * Refusals are UNAUTHENTICATED / PERMISSION_DENIED / RESOURCE_EXHAUSTED with
 * the stable code in `hive-error-code`.
 */
import type * as grpc from '@grpc/grpc-js';
import { GRPC_PERMISSIONS } from '../auth/permissions.js';
import type { AuthService, Credentials } from '../auth/service.js';
import { toServiceError } from './errors.js';

function credentials(call: { metadata: grpc.Metadata; getPeer(): string }): Credentials {
  const one = (key: string): string | undefined => {
    const v = call.metadata.get(key)[0];
    return typeof v === 'string' ? v : undefined;
  };
  return { authorization: one('authorization'), apiKey: one('x-api-key'), ip: call.getPeer().replace(/:\d+$/, '') };
}

type AnyCall = { metadata: grpc.Metadata; getPeer(): string };
type Handler = (call: AnyCall, callback?: grpc.sendUnaryData<unknown>) => void;

/** Wraps each method of a service implementation with its permission check. */
export function guarded(service: string, impl: grpc.UntypedServiceImplementation, auth: AuthService | undefined): grpc.UntypedServiceImplementation {
  if (auth === undefined || !auth.enabled) return impl;
  const out: grpc.UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(impl)) {
    const what = `${service}/${method}`;
    const permission = GRPC_PERMISSIONS[what] ?? 'admin';
    const h = handler as unknown as Handler;
    out[method] = (call: AnyCall, callback?: grpc.sendUnaryData<unknown>) => {
      auth.check(permission, credentials(call), what).then(
        () => h(call, callback),
        (err: unknown) => {
          const e = toServiceError(err);
          if (callback !== undefined) callback(e);
          // Streams end with a status by emitting it as an error (grpc-js turns it into the call's status).
          else (call as unknown as { emit(event: 'error', err: Error): void }).emit('error', Object.assign(new Error(e.details ?? 'refused'), e));
        },
      );
    };
  }
  return out;
}
