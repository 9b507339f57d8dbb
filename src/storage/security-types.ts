/** Users, refresh tokens, API keys and the audit log (sql/security-store.ts implements SecurityStore). */

export const ROLES = ['admin', 'operator', 'viewer', 'agent'] as const;
export type Role = (typeof ROLES)[number];

export interface User {
  id: string;
  username: string;
  password_hash: string;
  roles: Role[];
  created_at: string;
  updated_at: string;
}

export interface RefreshToken {
  id: string;
  user_id: string;
  family_id: string;
  expires_at: string;
  used_at: string | null;
  revoked_at: string | null;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  role: Role;
  created_by: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface AuditEntry {
  id: number;
  at: string;
  event: string;
  principal: string | null;
  ip: string | null;
  detail: unknown;
}

export interface SecurityStore {
  countUsers(): Promise<number>;
  createUser(username: string, passwordHash: string, roles: readonly Role[]): Promise<User>;
  getUserByName(username: string): Promise<User | undefined>;
  getUser(id: string): Promise<User | undefined>;
  listUsers(): Promise<User[]>;
  setPassword(username: string, passwordHash: string): Promise<boolean>;
  /** Removes a user and their refresh tokens. */
  deleteUser(username: string): Promise<boolean>;

  insertRefreshToken(t: { userId: string; familyId: string; tokenHash: string; expiresAt: string }): Promise<string>;
  getRefreshToken(tokenHash: string): Promise<RefreshToken | undefined>;
  /** Marks a refresh token used (rotation); false when it was used or revoked already (a reuse). */
  useRefreshToken(id: string): Promise<boolean>;
  /** Revokes every token of a family (reuse detected, or logout); returns how many. */
  revokeRefreshFamily(familyId: string): Promise<number>;

  createApiKey(k: { name: string; prefix: string; keyHash: string; role: Role; createdBy: string }): Promise<ApiKey>;
  getApiKeyByHash(keyHash: string): Promise<ApiKey | undefined>;
  listApiKeys(): Promise<ApiKey[]>;
  revokeApiKey(id: string): Promise<ApiKey | undefined>;
  touchApiKey(id: string): Promise<void>;

  audit(e: { event: string; principal: string | null; ip: string | null; detail: unknown }): Promise<void>;
  listAudit(limit: number): Promise<AuditEntry[]>;
  /** Deletes audit records older than `before` (ISO 8601); how many. */
  pruneAudit(before: string): Promise<number>;
}
