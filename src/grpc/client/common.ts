/** What the SDK's client and agent share: task input, credentials. */
import * as grpc from '@grpc/grpc-js';

type Msg = Record<string, unknown>;

export interface TaskInput {
  title: string;
  description?: string;
  type?: string;
  priority?: 'low' | 'medium' | 'high' | 'critical';
  required_capabilities?: Array<{ name: string; min_proficiency: number }>;
  payload?: unknown;
  max_attempts?: number;
  timeout_ms?: number;
  run_at?: string;
  depends_on?: string[];
  idempotency_key?: string;
  /** Flow control (docs/flow-control.md): at most 8 keys, the tenant, the estimate by unit. */
  concurrency_keys?: string[];
  fairness_key?: string;
  cost?: Record<string, number>;
  /** Workflows (docs/workflows.md): the parent task; a wait before the first attempt ({signal} or {approval: true}, with timeout_ms). */
  parent_id?: string;
  wait_for?: { signal?: string; approval?: boolean; timeout_ms?: number };
}

export function toProtoTask(t: TaskInput): Msg {
  return {
    ...t,
    payload_json: t.payload === undefined ? '' : JSON.stringify(t.payload),
    payload: undefined,
    wait_for_json: t.wait_for === undefined ? '' : JSON.stringify(t.wait_for),
    wait_for: undefined,
  };
}

/** Credentials for a hub with security on: an API key, or an access token from POST /auth/login. */
export interface HubAuth {
  apiKey?: string | undefined;
  token?: string | undefined;
}

/** Adds the credentials to every call's metadata. */
function authInterceptor(auth: HubAuth): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        if (auth.apiKey !== undefined) metadata.set('x-api-key', auth.apiKey);
        if (auth.token !== undefined) metadata.set('authorization', `Bearer ${auth.token}`);
        next(metadata, listener);
      },
    });
}

export function clientOptions(auth: HubAuth | undefined): grpc.ClientOptions {
  return auth === undefined || (auth.apiKey === undefined && auth.token === undefined)
    ? {}
    : { interceptors: [authInterceptor(auth)] };
}
