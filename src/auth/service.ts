/**
 * Authentication and authorization: users and passwords, JWT access tokens
 * (HS256, jose), rotating refresh tokens in families (reusing a rotated one
 * revokes the family), API keys, roles and permissions, rate limits and login
 * lockout, and the audit log (database and log). With security off, every
 * request is the anonymous admin and nothing is checked.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import type { HubConfig } from '../config/index.js';
import { HubError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { ROLES, type ApiKey, type Role, type SecurityStore, type User } from '../storage/index.js';
import { DUMMY_HASH, MIN_PASSWORD_LENGTH, adminPasswordProblem, hashPassword, verifyPassword } from './passwords.js';
import { allows, type Permission } from './permissions.js';
import { LoginGuard, RateLimiter } from './rate-limit.js';
import { ANONYMOUS_ADMIN, type Credentials, type Principal } from './principal.js';
import { StreamWatcher, type WatchedStream } from './stream-watch.js';
import { AuditLog } from './audit.js';

export { ANONYMOUS_ADMIN, type Credentials, type Principal };

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
  user: { id: string; username: string; roles: Role[] };
}

const ISSUER = 'ai-orchestrator-hub';
const USERNAME = /^[a-z0-9][a-z0-9_.@-]{0,63}$/i;
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

function unauthenticated(message: string): HubError {
  return new HubError('UNAUTHENTICATED', message);
}

export class AuthService {
  private readonly key: Uint8Array;
  private readonly limiter: RateLimiter;
  private readonly logins: LoginGuard;
  /** Principals recently checked against the database (a deleted user or revoked key stops within this time). */
  private readonly seen = new Map<string, { principal: Principal | null; at: number }>();
  /** How long a looked-up principal is trusted (a removed user or revoked key is refused after at most this, on every node). */
  private static readonly SEEN_MS = 1000;
  /** Cached principals looked up before this time are read again (set by each stream re-check pass). */
  private freshAfter = 0;
  /** Open streams and the credentials they were opened with, re-checked every STREAM_RECHECK_MS. */
  private readonly watcher = new StreamWatcher({
    // Each pass reads every principal afresh (once, however many streams share it).
    beforePass: () => (this.freshAfter = Date.now()),
    check: (w) => this.recheck(w),
    closed: (w, e) =>
      this.audit('stream.closed', null, w.c.ip ?? null, { what: w.what, code: e.code, reason: e.message }),
  });

  private readonly auditLog: AuditLog;

  constructor(private readonly o: { config: HubConfig; store: SecurityStore; log: Logger }) {
    this.auditLog = new AuditLog(o.store, o.log);
    const s = o.config.security;
    this.key = new TextEncoder().encode(s.jwt_secret);
    this.limiter = new RateLimiter(s.rate_limit_per_second, s.rate_limit_burst);
    this.logins = new LoginGuard(s.login_max_failures, s.login_window_seconds * 1000, s.login_lockout_seconds * 1000);
  }

  get enabled(): boolean {
    return this.o.config.security.enabled;
  }

  /** First start with security on: creates `admin` from HIVE_SECURITY_ADMIN_PASSWORD, or refuses to start. */
  async bootstrap(adminPassword: string): Promise<'disabled' | 'users exist' | 'admin created'> {
    if (!this.enabled) return 'disabled';
    if ((await this.o.store.countUsers()) > 0) return 'users exist';
    const problem = adminPasswordProblem(adminPassword);
    if (problem !== undefined) throw new HubError('STARTUP_FAILED', problem);
    await this.addUser('admin', adminPassword, ['admin']);
    await this.audit('user.created', null, null, { username: 'admin', roles: ['admin'], by: 'first start' });
    return 'admin created';
  }

  // ----------------------------------------------------------------- users

  async addUser(username: string, password: string, roles: readonly Role[]): Promise<User> {
    if (!USERNAME.test(username))
      throw new HubError('VALIDATION_FAILED', 'username: expected letters, digits, _ . @ -; at most 64 characters', {
        details: { field: 'username' },
      });
    if (password.length < MIN_PASSWORD_LENGTH)
      throw new HubError('VALIDATION_FAILED', `password: must be at least ${MIN_PASSWORD_LENGTH} characters`, {
        details: { field: 'password' },
      });
    if (roles.length === 0 || roles.some((r) => !(ROLES as readonly string[]).includes(r)))
      throw new HubError('VALIDATION_FAILED', `roles: expected one or more of ${ROLES.join(', ')}`, {
        details: { field: 'roles' },
      });
    if ((await this.o.store.getUserByName(username)) !== undefined)
      throw new HubError('CONFLICT', `user ${username} already exists`, { details: { field: 'username' } });
    return this.o.store.createUser(username, await hashPassword(password), roles);
  }

  async setPassword(username: string, password: string): Promise<void> {
    if (password.length < MIN_PASSWORD_LENGTH)
      throw new HubError('VALIDATION_FAILED', `password: must be at least ${MIN_PASSWORD_LENGTH} characters`, {
        details: { field: 'password' },
      });
    if (!(await this.o.store.setPassword(username, await hashPassword(password))))
      throw new HubError('NOT_FOUND', `no user ${username}`);
  }

  async removeUser(username: string): Promise<void> {
    if (!(await this.o.store.deleteUser(username))) throw new HubError('NOT_FOUND', `no user ${username}`);
    this.seen.clear();
  }

  listUsers(): Promise<User[]> {
    return this.o.store.listUsers();
  }

  // ----------------------------------------------------------------- tokens

  async login(username: string, password: string, ip: string): Promise<TokenPair> {
    const guardKey = `${username.toLowerCase()}|${ip}`;
    const locked = this.logins.locked(guardKey);
    if (locked > 0) {
      await this.audit('login.locked_out', username, ip, { retry_after: locked });
      throw Object.assign(
        new HubError('RATE_LIMITED', `too many failed logins for ${username}; try again in ${locked} s`, {
          details: { retry_after: locked },
        }),
        { retryAfter: locked },
      );
    }
    const user = await this.o.store.getUserByName(username);
    // Verify against a dummy hash for unknown users too: the answer takes as long either way.
    const ok = await verifyPassword(password, user?.password_hash ?? DUMMY_HASH);
    if (user === undefined || !ok) {
      const lockedNow = this.logins.fail(guardKey);
      await this.audit('login.failed', username, ip, {
        reason: user === undefined ? 'unknown user' : 'wrong password',
      });
      if (lockedNow)
        await this.audit('login.lockout', username, ip, { seconds: this.o.config.security.login_lockout_seconds });
      throw unauthenticated('wrong username or password');
    }
    this.logins.succeed(guardKey);
    await this.audit('login.ok', username, ip, null);
    return this.issue(user, randomUUID());
  }

  private async issue(user: User, familyId: string): Promise<TokenPair> {
    const s = this.o.config.security;
    const expiresIn = Math.round(s.jwt_expiration_hours * 3600);
    const access = await new SignJWT({ username: user.username, roles: user.roles, typ: 'access' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setSubject(user.id)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn)
      .sign(this.key);
    const refresh = randomBytes(32).toString('base64url');
    await this.o.store.insertRefreshToken({
      userId: user.id,
      familyId,
      tokenHash: sha256(refresh),
      expiresAt: new Date(Date.now() + s.refresh_token_expiration_days * 86_400_000).toISOString(),
    });
    return {
      access_token: access,
      refresh_token: refresh,
      token_type: 'Bearer',
      expires_in: expiresIn,
      user: { id: user.id, username: user.username, roles: user.roles },
    };
  }

  /** Rotation: the token is spent and a new pair issued in its family. A spent or revoked token revokes the whole family. */
  async refresh(refreshToken: string, ip: string): Promise<TokenPair> {
    const t = await this.o.store.getRefreshToken(sha256(refreshToken));
    if (t === undefined) throw unauthenticated('unknown refresh token');
    if (t.revoked_at !== null || t.used_at !== null) {
      const n = await this.o.store.revokeRefreshFamily(t.family_id);
      await this.audit('refresh.reuse', t.user_id, ip, { family_id: t.family_id, revoked: n });
      throw unauthenticated('refresh token already used or revoked: its whole family is revoked now; log in again');
    }
    if (Date.parse(t.expires_at) <= Date.now()) throw unauthenticated('refresh token expired; log in again');
    if (!(await this.o.store.useRefreshToken(t.id))) {
      await this.o.store.revokeRefreshFamily(t.family_id);
      throw unauthenticated('refresh token already used: its whole family is revoked now; log in again');
    }
    const user = await this.o.store.getUser(t.user_id);
    if (user === undefined) throw unauthenticated('the user of this refresh token no longer exists');
    return this.issue(user, t.family_id);
  }

  /** Revokes the refresh token's family (the session). */
  async logout(principal: Principal, refreshToken: string | undefined, ip: string): Promise<{ revoked: number }> {
    let revoked = 0;
    if (refreshToken !== undefined) {
      const t = await this.o.store.getRefreshToken(sha256(refreshToken));
      if (t !== undefined && t.user_id === principal.id) revoked = await this.o.store.revokeRefreshFamily(t.family_id);
    }
    await this.audit('logout', principal.name, ip, { revoked });
    return { revoked };
  }

  // ----------------------------------------------------------------- keys

  async createKey(name: string, role: Role, by: Principal, ip: string): Promise<ApiKey & { key: string }> {
    if (!/^[\w .:@-]{1,64}$/.test(name))
      throw new HubError('VALIDATION_FAILED', 'name: expected 1 to 64 letters, digits, spaces or _ . : @ -', {
        details: { field: 'name' },
      });
    if (!(ROLES as readonly string[]).includes(role))
      throw new HubError('VALIDATION_FAILED', `role: expected one of ${ROLES.join(', ')}`, {
        details: { field: 'role' },
      });
    const prefix = randomBytes(4).toString('hex');
    const key = `hive_${prefix}_${randomBytes(24).toString('base64url')}`;
    const stored = await this.o.store.createApiKey({ name, prefix, keyHash: sha256(key), role, createdBy: by.name });
    await this.audit('key.created', by.name, ip, { key_id: stored.id, name, role });
    return { ...stored, key };
  }

  listKeys(): Promise<ApiKey[]> {
    return this.o.store.listApiKeys();
  }

  async revokeKey(id: string, by: Principal, ip: string): Promise<ApiKey> {
    const k = await this.o.store.revokeApiKey(id);
    if (k === undefined) throw new HubError('NOT_FOUND', `no active API key ${id}`);
    this.seen.clear();
    await this.audit('key.revoked', by.name, ip, { key_id: id, name: k.name });
    return k;
  }

  // ----------------------------------------------------------------- requests

  /** Who is asking; undefined without credentials. Bad credentials throw UNAUTHENTICATED. */
  async authenticate(c: Credentials): Promise<Principal | undefined> {
    if (!this.enabled) return ANONYMOUS_ADMIN;
    if (c.apiKey !== undefined && c.apiKey !== '') return this.byKey(c.apiKey);
    const auth = c.authorization ?? '';
    if (auth === '') return undefined;
    const m = /^Bearer ([A-Za-z0-9_\-.]{10,4096})$/.exec(auth);
    if (m === null) throw unauthenticated('Authorization: expected "Bearer <access token>"');
    return this.byToken(m[1]!);
  }

  /** Tokens whose signature was verified, until their expiry: a token is immutable, so its check need not be repeated (bounded). */
  private readonly verified = new Map<string, { sub: string; exp: number }>();

  private async byToken(token: string): Promise<Principal> {
    const sub = await this.verifiedSubject(token);
    const principal = await this.cached(`user:${sub}`, async () => {
      const u = await this.o.store.getUser(sub);
      return u === undefined ? null : { kind: 'user', id: u.id, name: u.username, roles: u.roles };
    });
    if (principal === null) throw unauthenticated('the user of this token no longer exists');
    return principal;
  }

  private async verifiedSubject(token: string): Promise<string> {
    const hit = this.verified.get(token);
    if (hit !== undefined && hit.exp * 1000 > Date.now()) return hit.sub;
    if (hit !== undefined) this.verified.delete(token);
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], issuer: ISSUER }));
    } catch (err) {
      throw unauthenticated(
        err instanceof joseErrors.JWTExpired ? 'access token expired; refresh it' : 'access token invalid',
      );
    }
    if (payload['typ'] !== 'access' || typeof payload.sub !== 'string' || typeof payload.exp !== 'number')
      throw unauthenticated('access token invalid');
    if (this.verified.size >= 10_000) this.verified.delete(this.verified.keys().next().value as string);
    this.verified.set(token, { sub: payload.sub, exp: payload.exp });
    return payload.sub;
  }

  private async byKey(key: string): Promise<Principal> {
    if (key.length > 256) throw unauthenticated('X-API-Key: unknown or revoked key');
    const principal = await this.cached(`key:${sha256(key)}`, async () => {
      const k = await this.o.store.getApiKeyByHash(sha256(key));
      if (k === undefined || k.revoked_at !== null) return null;
      void this.o.store.touchApiKey(k.id).catch(() => undefined);
      return { kind: 'key', id: k.id, name: `key:${k.name}`, roles: [k.role] };
    });
    if (principal === null) throw unauthenticated('X-API-Key: unknown or revoked key');
    return principal;
  }

  private async cached(id: string, load: () => Promise<Principal | null>): Promise<Principal | null> {
    const hit = this.seen.get(id);
    if (hit !== undefined && hit.at >= this.freshAfter && Date.now() - hit.at < AuthService.SEEN_MS)
      return hit.principal;
    const principal = await load();
    if (this.seen.size > 10_000) this.seen.clear();
    this.seen.set(id, { principal, at: Date.now() });
    return principal;
  }

  /**
   * Checks a request: rate limit (by principal, or IP before authentication),
   * authentication and the permission. Returns the principal; throws
   * UNAUTHENTICATED, FORBIDDEN (audited) or RATE_LIMITED (with retryAfter).
   */
  async check(permission: Permission, c: Credentials, what: string): Promise<Principal> {
    if (!this.enabled) return ANONYMOUS_ADMIN;
    const ip = c.ip ?? 'unknown';
    if (permission === 'public') {
      this.limit(`ip:${ip}`);
      return ANONYMOUS_ADMIN;
    }
    let principal: Principal | undefined;
    try {
      principal = await this.authenticate(c);
    } catch (err) {
      this.limit(`ip:${ip}`);
      throw err;
    }
    if (principal === undefined) {
      this.limit(`ip:${ip}`);
      throw unauthenticated(
        `${what} needs authentication: send Authorization: Bearer <access token> (POST /auth/login) or X-API-Key`,
      );
    }
    this.limit(`${principal.kind}:${principal.id}`);
    if (!allows(principal.roles, permission)) {
      await this.audit('permission.denied', principal.name, ip, { what, permission, roles: principal.roles });
      throw new HubError(
        'FORBIDDEN',
        `${what} needs permission ${permission}; ${principal.name} has roles ${principal.roles.join(', ')}`,
        { details: { permission } },
      );
    }
    return principal;
  }

  /**
   * Keeps an open stream (/ws, WatchTasks, AgentService) only as long as its
   * credentials: every STREAM_RECHECK_MS they are checked again (without the rate
   * limit, reading the principal afresh), and `onRevoked` is called once with the
   * refusal when a key is revoked, a user removed or its role no longer allows
   * `permission`, or a token expires: within STREAM_RECHECK_MS plus a lookup, on
   * every node, since the state is in the database. During an outage streams are left open. Returns the unwatch.
   */
  watch(permission: Permission, c: Credentials, what: string, onRevoked: (err: HubError) => void): () => void {
    if (!this.enabled || permission === 'public') return () => undefined;
    return this.watcher.add({ permission, c, what, onRevoked });
  }

  /** One open stream's credentials, checked again: throws the refusal when they no longer hold. */
  private async recheck(w: WatchedStream): Promise<void> {
    const principal = await this.authenticate(w.c);
    if (principal === undefined) throw unauthenticated('credentials gone');
    if (!allows(principal.roles, w.permission))
      throw new HubError(
        'FORBIDDEN',
        `${w.what} needs permission ${w.permission}; ${principal.name} has roles ${principal.roles.join(', ')}`,
      );
  }

  private limit(key: string): void {
    const wait = this.limiter.take(key);
    if (wait > 0)
      throw Object.assign(
        new HubError(
          'RATE_LIMITED',
          `rate limit of ${this.o.config.security.rate_limit_per_second} requests per second exceeded; retry in ${wait} s`,
          { details: { retry_after: wait } },
        ),
        { retryAfter: wait },
      );
  }

  // ----------------------------------------------------------------- audit

  /** A security event: stored in audit_log and logged (module security). */
  /** Logs a security event and stores it in the audit log (a refused store is logged; the request goes on). */
  audit(event: string, principal: string | null, ip: string | null, detail: unknown): Promise<void> {
    return this.auditLog.record(event, principal, ip, detail);
  }

  /** Deletes audit records past [security] audit_retention_days now, then hourly (0 keeps them). Returns the stop. */
  keepAuditRetention(): () => void {
    return this.auditLog.keepRetention(this.o.config.security.audit_retention_days);
  }

  listAudit(limit: number): Promise<Awaited<ReturnType<SecurityStore['listAudit']>>> {
    return this.o.store.listAudit(limit);
  }
}
