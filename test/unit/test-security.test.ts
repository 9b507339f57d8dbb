/** Security units: the permission table covers every route and RPC; passwords; tokens (tampering, expiry, refresh reuse); keys; limits. */
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { loadConfig } from '../../src/config/index.js';
import { buildRouter, type RouterDeps } from '../../src/edge/routes/index.js';
import { HubMetrics } from '../../src/metrics/registry.js';
import { GRPC_PERMISSIONS, HTTP_PERMISSIONS, ROLE_PERMISSIONS, allows } from '../../src/auth/permissions.js';
import { hashPassword, verifyPassword } from '../../src/auth/passwords.js';
import { LoginGuard, RateLimiter } from '../../src/auth/rate-limit.js';
import { AuthService } from '../../src/auth/service.js';
import { hiveProto } from '../../src/grpc/proto.js';
import { openSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { HubError } from '../../src/errors/index.js';
import type { Store } from '../../src/storage/index.js';
import { memoryLogger } from '../helpers/logs.js';

const SECRET = 'x'.repeat(48);

describe('security: the permission table', () => {
  it('has exactly one entry per HTTP route and per gRPC method', () => {
    const deps = {
      config: loadConfig({ env: { HIVE_ENV: 'test' } }),
      metrics: new HubMetrics({ defaultMetrics: false }),
      nodeId: 'n',
      version: '0',
      startedAt: new Date(),
    } as unknown as RouterDeps;
    const routes = buildRouter(deps)
      .routes.map((r) => `${r.method} ${r.pattern}`)
      .sort();
    assert.deepEqual(routes, Object.keys(HTTP_PERMISSIONS).sort());
    const p = hiveProto();
    const rpcs = [
      ...Object.keys(p.hiveService).map((m) => `HiveService/${m}`),
      ...Object.keys(p.agentService).map((m) => `AgentService/${m}`),
    ].sort();
    assert.deepEqual(rpcs, Object.keys(GRPC_PERMISSIONS).sort());
  });

  it('gives admin everything, operators no admin or agent.connect, viewers read only, agents connect only', () => {
    assert.ok(allows(['admin'], 'admin'));
    assert.ok(
      !allows(['operator'], 'admin') && allows(['operator'], 'modules.write') && !allows(['operator'], 'agent.connect'),
    );
    assert.deepEqual(ROLE_PERMISSIONS.viewer, ['read']);
    assert.ok(allows(['agent'], 'agent.connect') && !allows(['agent'], 'read'));
    assert.ok(allows(['viewer', 'agent'], 'read'), 'roles add up');
  });
});

describe('security: passwords, limits', () => {
  it('hashes with scrypt and a per-user salt; verifies only the right password', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    assert.notEqual(a, b, 'salted');
    assert.match(a, /^scrypt\$16384\$8\$1\$/);
    assert.equal(await verifyPassword('correct horse battery', a), true);
    assert.equal(await verifyPassword('correct horse batterY', a), false);
    assert.equal(await verifyPassword('x', 'garbage'), false);
  });

  it('rate-limits by token bucket and locks out after repeated failures', () => {
    const r = new RateLimiter(10, 3);
    const t = 1_000_000;
    assert.deepEqual([r.take('k', t), r.take('k', t), r.take('k', t)], [0, 0, 0]);
    assert.ok(r.take('k', t) >= 1, 'the fourth in the same instant waits');
    assert.equal(r.take('k', t + 200), 0, 'refilled after 100 ms per token');
    assert.equal(r.take('other', t), 0, 'per key');
    const g = new LoginGuard(3, 60_000, 30_000);
    assert.equal(g.fail('u', t), false);
    assert.equal(g.fail('u', t), false);
    assert.equal(g.fail('u', t), true);
    assert.equal(g.locked('u', t + 1000), 29);
    assert.equal(g.locked('u', t + 31_000), 0);
  });
});

describe('security: tokens and keys', function () {
  this.timeout(20_000);
  let store: Store;
  let auth: AuthService;
  let records: Array<Record<string, unknown>>;
  const config = loadConfig({
    env: {
      HIVE_ENV: 'test',
      HIVE_SECURITY_ENABLED: 'true',
      HIVE_SECURITY_JWT_SECRET: SECRET,
      HIVE_SECURITY_LOGIN_MAX_FAILURES: '3',
    },
  });

  before(async () => {
    store = openSqliteStore(':memory:');
    await store.migrate();
    const logger = memoryLogger();
    records = logger.records;
    auth = new AuthService({ config, store: store.security, log: logger.log });
    assert.equal(await auth.bootstrap('an admin password'), 'admin created');
    await auth.addUser('olga', 'operator password', ['operator']);
  });
  after(() => store.close());

  const code = (e: unknown): string => (e as HubError).code;

  it('refuses a first start with security on, no users and no admin password', async () => {
    const empty = openSqliteStore(':memory:');
    await empty.migrate();
    const a = new AuthService({ config, store: empty.security, log: memoryLogger().log });
    await assert.rejects(a.bootstrap(''), /HIVE_SECURITY_ADMIN_PASSWORD/);
    await assert.rejects(a.bootstrap('short'), /at least 12 characters/);
    await empty.close();
  });

  it('accepts a fresh token, and refuses a tampered, re-signed, expired or malformed one', async () => {
    const pair = await auth.login('olga', 'operator password', '10.0.0.1');
    const me = await auth.authenticate({ authorization: `Bearer ${pair.access_token}` });
    assert.deepEqual([me?.name, me?.roles], ['olga', ['operator']]);
    const [h, p, sig] = pair.access_token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const escalated = Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString('base64url');
    await assert.rejects(
      auth.authenticate({ authorization: `Bearer ${h}.${escalated}.${sig}` }),
      (e) => code(e) === 'UNAUTHENTICATED',
      'tampered claims (role escalation)',
    );
    const forged = await new SignJWT({ ...claims, roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('y'.repeat(48)));
    await assert.rejects(
      auth.authenticate({ authorization: `Bearer ${forged}` }),
      (e) => code(e) === 'UNAUTHENTICATED',
      'signed with another secret',
    );
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
    await assert.rejects(
      auth.authenticate({ authorization: `Bearer ${none}` }),
      (e) => code(e) === 'UNAUTHENTICATED',
      'alg none',
    );
    const expired = await new SignJWT({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(SECRET));
    await assert.rejects(auth.authenticate({ authorization: `Bearer ${expired}` }), /expired/);
    await assert.rejects(auth.authenticate({ authorization: 'Basic abc' }), (e) => code(e) === 'UNAUTHENTICATED');
    // Roles come from the user record, not only the token: a valid token of a removed user stops working.
    const gone = await auth.addUser('temp-user', 'temporary password', ['viewer']);
    const t = await auth.login(gone.username, 'temporary password', '10.0.0.1');
    await auth.removeUser(gone.username);
    await assert.rejects(auth.authenticate({ authorization: `Bearer ${t.access_token}` }), /no longer exists/);
  });

  it('rotates refresh tokens; reusing a spent one revokes the whole family', async () => {
    const first = await auth.login('olga', 'operator password', '10.0.0.2');
    const second = await auth.refresh(first.refresh_token, '10.0.0.2');
    const third = await auth.refresh(second.refresh_token, '10.0.0.2');
    await assert.rejects(auth.refresh(first.refresh_token, '10.0.0.9'), /whole family is revoked/);
    await assert.rejects(
      auth.refresh(third.refresh_token, '10.0.0.2'),
      (e) => code(e) === 'UNAUTHENTICATED',
      'the newest of the family is revoked too',
    );
    await assert.rejects(auth.refresh('not-a-token', '10.0.0.2'), /unknown refresh token/);
    assert.ok(records.some((r) => r['event'] === 'security.refresh.reuse'));
    const audit = await auth.listAudit(50);
    assert.ok(audit.some((a) => a.event === 'refresh.reuse' && a.ip === '10.0.0.9'));
    // Logout revokes the session.
    const s = await auth.login('olga', 'operator password', '10.0.0.3');
    const olga = (await auth.authenticate({ authorization: `Bearer ${s.access_token}` }))!;
    assert.equal((await auth.logout(olga, s.refresh_token, '10.0.0.3')).revoked, 1);
    await assert.rejects(auth.refresh(s.refresh_token, '10.0.0.3'), (e) => code(e) === 'UNAUTHENTICATED');
  });

  it('locks a username out after repeated failures, and audits failures and the lockout', async () => {
    for (let i = 0; i < 3; i++)
      await assert.rejects(auth.login('olga', 'wrong password!', '10.9.9.9'), (e) => code(e) === 'UNAUTHENTICATED');
    await assert.rejects(
      auth.login('olga', 'operator password', '10.9.9.9'),
      (e) => code(e) === 'RATE_LIMITED' && typeof (e as { retryAfter?: number }).retryAfter === 'number',
    );
    assert.ok(
      (await auth.login('olga', 'operator password', '10.0.0.4')).access_token,
      'another address is not locked',
    );
    const events = (await auth.listAudit(100)).map((a) => a.event);
    assert.ok(
      events.includes('login.failed') && events.includes('login.lockout') && events.includes('login.locked_out'),
    );
  });

  it('stores API keys hashed, shows them once, and refuses revoked ones; permission checks audit denials', async () => {
    const admin = (await auth.authenticate({
      authorization: `Bearer ${(await auth.login('admin', 'an admin password', '10.0.0.5')).access_token}`,
    }))!;
    const created = await auth.createKey('ci agent', 'agent', admin, '10.0.0.5');
    assert.match(created.key, /^hive_[0-9a-f]{8}_/);
    assert.ok(!JSON.stringify(await auth.listKeys()).includes(created.key), 'the key itself is never listed');
    const p = await auth.check('agent.connect', { apiKey: created.key }, 'AgentService/Connect');
    assert.deepEqual(p.roles, ['agent']);
    await assert.rejects(
      auth.check('tasks.write', { apiKey: created.key }, 'POST /api/tasks'),
      (e) => code(e) === 'FORBIDDEN',
    );
    await auth.revokeKey(created.id, admin, '10.0.0.5');
    await assert.rejects(
      auth.check('agent.connect', { apiKey: created.key }, 'AgentService/Connect'),
      /unknown or revoked/,
    );
    await assert.rejects(auth.check('read', {}, 'GET /api/tasks'), (e) => code(e) === 'UNAUTHENTICATED');
    const events = (await auth.listAudit(100)).map((a) => a.event);
    assert.ok(events.includes('key.created') && events.includes('key.revoked') && events.includes('permission.denied'));
  });

  it('config refuses security on with a missing, published or short JWT secret, saying how to make one', () => {
    for (const [secret, why] of [
      ['', /missing/],
      ['your-256-bit-secret-here-change-this-in-production', /published example/],
      ['short-secret', /at least 32 are needed/],
    ] as const) {
      assert.throws(
        () =>
          loadConfig({ env: { HIVE_ENV: 'test', HIVE_SECURITY_ENABLED: 'true', HIVE_SECURITY_JWT_SECRET: secret } }),
        (e: { problems: Array<{ keyPath: string; message: string }> }) => {
          const p = e.problems.find((x) => x.keyPath === 'security.jwt_secret');
          return p !== undefined && why.test(p.message) && /openssl rand -hex 32/.test(p.message);
        },
      );
    }
  });
});
