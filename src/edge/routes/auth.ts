/** /auth/* (and the /api/auth/* aliases): login, refresh, logout, me; users, API keys and the audit log for admins. */
import { grantsOf } from '../../auth/permissions.js';
import type { AuthService } from '../../auth/service.js';
import { asInput, invalid, list, str } from '../../domain/validate.js';
import { ROLES, type Role } from '../../storage/index.js';
import { ok } from '../envelope.js';
import { parseQuery, pathId } from '../query.js';
import type { EdgeRequest, Router } from '../router.js';

function roles(value: unknown[]): Role[] {
  if (value.length === 0) throw invalid('roles', `expected one or more of ${ROLES.join(', ')}`);
  return value.map((r, i) => {
    if (typeof r !== 'string' || !(ROLES as readonly string[]).includes(r))
      throw invalid(`roles[${i}]`, `expected one of ${ROLES.join(', ')}`);
    return r as Role;
  });
}

// size: the route table of /auth and /api/auth, one entry per route.
export function authRoutes(router: Router, auth: AuthService, approverRole: string): void {
  for (const prefix of ['/auth', '/api/auth']) {
    router.add(
      'POST',
      `${prefix}/login`,
      'Log in with {username, password}: an access token, a refresh token, its lifetime and the user',
      async (req) => {
        const body = asInput(req.body === undefined ? {} : req.body, '(body)', ['username', 'password']);
        const username = str(body, 'username', { required: true, maxLength: 64 });
        const password = str(body, 'password', { required: true, maxLength: 1024 });
        return { status: 200, body: ok(await auth.login(username, password, req.ip)) };
      },
    );
    router.add(
      'POST',
      `${prefix}/refresh`,
      'Exchange a refresh token for a new pair (rotation; reusing a spent one revokes its family)',
      async (req) => {
        const body = asInput(req.body === undefined ? {} : req.body, '(body)', ['refresh_token']);
        return {
          status: 200,
          body: ok(await auth.refresh(str(body, 'refresh_token', { required: true, maxLength: 256 }), req.ip)),
        };
      },
    );
    router.add('POST', `${prefix}/logout`, 'Revoke the session of {refresh_token}', async (req) => {
      const body = asInput(req.body === undefined ? {} : req.body, '(body)', ['refresh_token']);
      const token = str(body, 'refresh_token', { required: false, maxLength: 256 });
      return { status: 200, body: ok(await auth.logout(req.principal, token === '' ? undefined : token, req.ip)) };
    });
    router.add(
      'GET',
      `${prefix}/status`,
      'Whether security is on (a client without credentials learns whether to show a login), public',
      () => Promise.resolve({ status: 200, body: ok({ security_enabled: auth.enabled }) }),
    );
    router.add(
      'GET',
      `${prefix}/me`,
      'Who the credentials belong to: kind (user, key), id, name, roles, permissions, may_approve',
      (req: EdgeRequest) =>
        Promise.resolve({
          status: 200,
          body: ok({ ...req.principal, ...grantsOf(req.principal.roles, approverRole) }),
        }),
    );
  }

  router.add('GET', '/api/auth/users', 'Users and their roles (admin)', async () => ({
    status: 200,
    body: ok({ users: (await auth.listUsers()).map(({ password_hash: _hidden, ...u }) => u) }),
  }));
  router.add('POST', '/api/auth/users', 'Add a user {username, password, roles} (admin)', async (req) => {
    const body = asInput(req.body === undefined ? {} : req.body, '(body)', ['username', 'password', 'roles']);
    const u = await auth.addUser(
      str(body, 'username', { required: true, maxLength: 64 }),
      str(body, 'password', { required: true, maxLength: 1024 }),
      roles(list(body, 'roles', 4)),
    );
    await auth.audit('user.created', req.principal.name, req.ip, { username: u.username, roles: u.roles });
    return { status: 201, body: ok({ id: u.id, username: u.username, roles: u.roles, created_at: u.created_at }) };
  });
  router.add('DELETE', '/api/auth/users/:username', 'Remove a user and their sessions (admin)', async (req) => {
    const username = req.params['username'] ?? '';
    await auth.removeUser(username);
    await auth.audit('user.removed', req.principal.name, req.ip, { username });
    return { status: 200, body: ok({ username, removed: true }) };
  });
  router.add('GET', '/api/auth/keys', 'API keys (never the key itself) (admin)', async () => ({
    status: 200,
    body: ok({ keys: await auth.listKeys() }),
  }));
  router.add('POST', '/api/auth/keys', 'Create an API key {name, role}; the key is shown once (admin)', async (req) => {
    const body = asInput(req.body === undefined ? {} : req.body, '(body)', ['name', 'role']);
    const role = str(body, 'role', { required: false, maxLength: 16, fallback: 'agent' });
    if (!(ROLES as readonly string[]).includes(role)) throw invalid('role', `expected one of ${ROLES.join(', ')}`);
    return {
      status: 201,
      body: ok(
        await auth.createKey(str(body, 'name', { required: true, maxLength: 64 }), role as Role, req.principal, req.ip),
      ),
    };
  });
  router.add('DELETE', '/api/auth/keys/:id', 'Revoke an API key (admin)', async (req) => ({
    status: 200,
    body: ok(await auth.revokeKey(pathId(req.params), req.principal, req.ip)),
  }));
  router.add(
    'GET',
    '/api/auth/audit',
    'The latest security events (admin); ?limit= (1..1000, default 100)',
    async (req) => {
      const q = parseQuery(req.query, { limit: { kind: 'int', min: 1, max: 1000 } });
      return { status: 200, body: ok({ events: await auth.listAudit(q.limit ?? 100) }) };
    },
    { query: true },
  );
}
