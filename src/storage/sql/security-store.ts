/** Users, refresh tokens, API keys and the audit log, over the same Executor and Dialect as the rest of the store. */
import { randomUUID } from 'node:crypto';
import type { Dialect, Executor, Row } from './executor.js';
import { toJson } from './rows.js';
import type { ApiKey, AuditEntry, RefreshToken, Role, SecurityStore, User } from '../store.js';

const str = (v: unknown): string => String(v);
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : str(v));

export class SqlSecurityStore implements SecurityStore {
  constructor(
    private readonly db: Executor,
    private readonly dialect: Dialect,
  ) {}

  private json(v: unknown): unknown {
    if (v === null || v === undefined) return null;
    return this.dialect.decodesJson ? v : JSON.parse(v as string);
  }

  private user(r: Row): User {
    return {
      id: str(r['id']),
      username: str(r['username']),
      password_hash: str(r['password_hash']),
      roles: this.json(r['roles']) as Role[],
      created_at: str(r['created_at']),
      updated_at: str(r['updated_at']),
    };
  }

  private key(r: Row): ApiKey {
    return {
      id: str(r['id']),
      name: str(r['name']),
      prefix: str(r['prefix']),
      role: str(r['role']) as Role,
      created_by: str(r['created_by']),
      created_at: str(r['created_at']),
      last_used_at: strOrNull(r['last_used_at']),
      revoked_at: strOrNull(r['revoked_at']),
    };
  }

  async countUsers(): Promise<number> {
    return Number((await this.db.all('SELECT count(*) AS n FROM users'))[0]?.['n'] ?? 0);
  }

  async createUser(username: string, passwordHash: string, roles: readonly Role[]): Promise<User> {
    const now = new Date().toISOString();
    const rows = await this.db.all(
      'INSERT INTO users (id, username, password_hash, roles, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
      [randomUUID(), username, passwordHash, toJson(roles), now, now],
    );
    return this.user(rows[0] ?? {});
  }

  async getUserByName(username: string): Promise<User | undefined> {
    const r = (await this.db.all('SELECT * FROM users WHERE username = ?', [username]))[0];
    return r === undefined ? undefined : this.user(r);
  }

  async getUser(id: string): Promise<User | undefined> {
    const r = (await this.db.all('SELECT * FROM users WHERE id = ?', [id]))[0];
    return r === undefined ? undefined : this.user(r);
  }

  async listUsers(): Promise<User[]> {
    return (await this.db.all('SELECT * FROM users ORDER BY username')).map((r) => this.user(r));
  }

  async setPassword(username: string, passwordHash: string): Promise<boolean> {
    return (
      (await this.db.run('UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?', [
        passwordHash,
        new Date().toISOString(),
        username,
      ])) > 0
    );
  }

  async deleteUser(username: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const u = (await tx.all('SELECT id FROM users WHERE username = ?', [username]))[0];
      if (u === undefined) return false;
      await tx.run('DELETE FROM refresh_tokens WHERE user_id = ?', [u['id']]);
      await tx.run('DELETE FROM users WHERE id = ?', [u['id']]);
      return true;
    });
  }

  async insertRefreshToken(t: {
    userId: string;
    familyId: string;
    tokenHash: string;
    expiresAt: string;
  }): Promise<string> {
    const id = randomUUID();
    await this.db.run(
      'INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      [id, t.userId, t.familyId, t.tokenHash, t.expiresAt, new Date().toISOString()],
    );
    return id;
  }

  async getRefreshToken(tokenHash: string): Promise<RefreshToken | undefined> {
    const r = (await this.db.all('SELECT * FROM refresh_tokens WHERE token_hash = ?', [tokenHash]))[0];
    if (r === undefined) return undefined;
    return {
      id: str(r['id']),
      user_id: str(r['user_id']),
      family_id: str(r['family_id']),
      expires_at: new Date(str(r['expires_at'])).toISOString(),
      used_at: strOrNull(r['used_at']),
      revoked_at: strOrNull(r['revoked_at']),
    };
  }

  async useRefreshToken(id: string): Promise<boolean> {
    // A family any of whose tokens was revoked is dead: this also catches the new token a
    // concurrent winner got just before the loser's reuse revoked the family.
    return (
      (await this.db.run(
        `UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM refresh_tokens f WHERE f.family_id = refresh_tokens.family_id AND f.revoked_at IS NOT NULL)`,
        [new Date().toISOString(), id],
      )) > 0
    );
  }

  async revokeRefreshFamily(familyId: string): Promise<number> {
    return this.db.run('UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL', [
      new Date().toISOString(),
      familyId,
    ]);
  }

  async createApiKey(k: {
    name: string;
    prefix: string;
    keyHash: string;
    role: Role;
    createdBy: string;
  }): Promise<ApiKey> {
    const rows = await this.db.all(
      'INSERT INTO api_keys (id, name, prefix, key_hash, role, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *',
      [randomUUID(), k.name, k.prefix, k.keyHash, k.role, k.createdBy, new Date().toISOString()],
    );
    return this.key(rows[0] ?? {});
  }

  async getApiKeyByHash(keyHash: string): Promise<ApiKey | undefined> {
    const r = (await this.db.all('SELECT * FROM api_keys WHERE key_hash = ?', [keyHash]))[0];
    return r === undefined ? undefined : this.key(r);
  }

  async listApiKeys(): Promise<ApiKey[]> {
    return (await this.db.all('SELECT * FROM api_keys ORDER BY created_at')).map((r) => this.key(r));
  }

  async revokeApiKey(id: string): Promise<ApiKey | undefined> {
    const r = (
      await this.db.all('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING *', [
        new Date().toISOString(),
        id,
      ])
    )[0];
    return r === undefined ? undefined : this.key(r);
  }

  async touchApiKey(id: string): Promise<void> {
    await this.db.run('UPDATE api_keys SET last_used_at = ? WHERE id = ?', [new Date().toISOString(), id]);
  }

  async audit(e: { event: string; principal: string | null; ip: string | null; detail: unknown }): Promise<void> {
    await this.db.run('INSERT INTO audit_log (at, event, principal, ip, detail) VALUES (?, ?, ?, ?, ?)', [
      new Date().toISOString(),
      e.event,
      e.principal,
      e.ip,
      toJson(e.detail ?? null),
    ]);
  }

  async pruneAudit(before: string): Promise<number> {
    return this.db.run('DELETE FROM audit_log WHERE at < ?', [before]);
  }

  async listAudit(limit: number): Promise<AuditEntry[]> {
    return (await this.db.all('SELECT * FROM audit_log ORDER BY id DESC LIMIT ?', [limit])).map((r) => ({
      id: Number(r['id']),
      at: new Date(str(r['at'])).toISOString(),
      event: str(r['event']),
      principal: strOrNull(r['principal']),
      ip: strOrNull(r['ip']),
      detail: this.json(r['detail']),
    }));
  }
}
