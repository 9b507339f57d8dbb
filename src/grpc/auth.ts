/**
 * Every RPC checks its permission (src/auth/permissions.ts) before its handler
 * runs: credentials from `authorization: Bearer …` or `x-api-key` metadata.
 * Refusals are UNAUTHENTICATED / PERMISSION_DENIED / RESOURCE_EXHAUSTED with
 * the stable code in `hive-error-code`.
 */
import type * as grpc from '@grpc/grpc-js';
import { GRPC_PERMISSIONS } from '../auth/permissions.js';
import type { AuthService, Credentials, Principal } from '../auth/service.js';
import { toServiceError } from './errors.js';

function credentials(call: { metadata: grpc.Metadata; getPeer(): string }): Credentials {
  const one = (key: string): string | undefined => {
    const v = call.metadata.get(key)[0];
    return typeof v === 'string' ? v : undefined;
  };
  return { authorization: one('authorization'), apiKey: one('x-api-key'), ip: call.getPeer().replace(/:\d+$/, '') };
}

type AnyCall = { metadata: grpc.Metadata; getPeer(): string };
type StreamCall = { emit(event: 'error', err: Error): boolean; once(event: string, fn: () => void): unknown };

/** Ends a stream with the error's status: emitted as an error, which grpc-js turns into the call's status. */
function endWith(call: StreamCall, err: unknown): void {
  const e = toServiceError(err);
  call.emit('error', Object.assign(new Error(e.details ?? 'refused'), e));
}

/** Stops watching the credentials however the stream ends. */
function followCredentials(call: StreamCall, unwatch: () => void): void {
  for (const event of ['close', 'cancelled', 'error', 'finish']) call.once(event, unwatch);
}
type Handler = (call: AnyCall, callback?: grpc.sendUnaryData<unknown>) => void;

const principals = new WeakMap<object, Principal>();

/** Who opened a call (security on); undefined without security. */
export function principalOf(call: object): Principal | undefined {
  return principals.get(call);
}

/** Wraps each method of a service implementation with its permission check. */
export function guarded(
  service: string,
  impl: grpc.UntypedServiceImplementation,
  auth: AuthService | undefined,
): grpc.UntypedServiceImplementation {
  if (auth === undefined || !auth.enabled) return impl;
  const out: grpc.UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(impl)) {
    const what = `${service}/${method}`;
    const permission = GRPC_PERMISSIONS[what] ?? 'admin';
    const h = handler as unknown as Handler;
    out[method] = (call: AnyCall, callback?: grpc.sendUnaryData<unknown>) => {
      const c = credentials(call);
      auth.check(permission, c, what).then(
        (principal) => {
          principals.set(call, principal);
          // A stream lives only as long as its credentials (revoked key, removed user, expired token).
          if (callback === undefined)
            followCredentials(
              call as unknown as StreamCall,
              auth.watch(permission, c, what, (err) => endWith(call as unknown as StreamCall, err)),
            );
          h(call, callback);
        },
        (err: unknown) => {
          if (callback !== undefined) callback(toServiceError(err));
          else endWith(call as unknown as StreamCall, err);
        },
      );
    };
  }
  return out;
}
