/** Who makes a request (a user, an API key, or anonymous with security off) and the credentials it came with. */
import type { Role } from '../storage/index.js';

export interface Principal {
  kind: 'user' | 'key' | 'anonymous';
  id: string;
  name: string;
  roles: Role[];
}

export const ANONYMOUS_ADMIN: Principal = {
  kind: 'anonymous',
  id: 'anonymous',
  name: 'anonymous (security disabled)',
  roles: ['admin'],
};

export interface Credentials {
  /** `Authorization` header (or gRPC metadata) value. */
  authorization?: string | undefined;
  /** `X-API-Key` header (or `x-api-key` metadata). */
  apiKey?: string | undefined;
  ip?: string | undefined;
}
