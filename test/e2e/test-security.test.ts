/** Security through the real CLI: every route × role, gRPC and /ws, rate limits, the users CLI, and refusals to start. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import WebSocket from 'ws';
import { GRPC_PERMISSIONS, HTTP_PERMISSIONS, allows } from '../../src/auth/permissions.js';
import { HiveClient, runAgent } from '../../src/grpc/client/index.js';
import type { Role } from '../../src/storage/index.js';
import { ROOT, hubEnv, runCli, startHub, type RunningHub } from '../helpers/cli.js';
import { client, type Client } from '../helpers/http.js';

const SECRET = 'e2e-secret-'.padEnd(64, 'z');
const ADMIN_PASSWORD = 'first admin password';

function wsOpen(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(-1));
  });
}

describe('security (enabled)', function () {
  this.timeout(120_000);
  let tmp: string;
  let hub: RunningHub;
  let api: Client;
  let grpcAddress: string;
  const keys: Partial<Record<Role, string>> = {};
  let adminToken = '';

  const env = (extra: Record<string, string> = {}) =>
    hubEnv({
      HIVE_DATABASE_DATA_DIR: tmp,
      HIVE_SERVER_HOST: '127.0.0.1',
      HIVE_SECURITY_ENABLED: 'true',
      HIVE_SECURITY_JWT_SECRET: SECRET,
      HIVE_AGENTS_DEFAULT_POOL_SIZE: '1',
      ...extra,
    });

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-security-'));
    hub = await startHub([], env({ HIVE_SECURITY_ADMIN_PASSWORD: ADMIN_PASSWORD }));
    api = client(hub.port);
    grpcAddress = `127.0.0.1:${/"grpc_port":(\d+)/.exec(hub.output())![1]}`;
    const login = await api.post('/auth/login', { username: 'admin', password: ADMIN_PASSWORD });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    adminToken = login.body.data.access_token;
    for (const role of ['admin', 'operator', 'viewer', 'agent'] as const) {
      const r = await api.post(
        '/api/auth/keys',
        { name: `${role} key`, role },
        { authorization: `Bearer ${adminToken}` },
      );
      assert.equal(r.status, 201);
      keys[role] = r.body.data.key;
    }
  });

  after(async () => {
    if (hub !== undefined) assert.equal(await hub.stop(), 0);
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it('walks every route of the permission table with every role: allowed ones pass the check, others get 403, no credentials 401', async () => {
    const fill = (pattern: string): string =>
      pattern
        .replace(':id', '2b1e7c4e-3f7e-4c8e-9d43-000000000000')
        .replace(':name', 'swarm_coordinator')
        .replace(':username', 'nobody-here');
    let checked = 0;
    for (const [entry, permission] of Object.entries(HTTP_PERMISSIONS)) {
      const [method, pattern] = entry.split(' ') as [string, string];
      if (pattern.endsWith('/logout')) continue; // would end the admin's session; covered below
      const url = fill(pattern);
      for (const role of [undefined, 'admin', 'operator', 'viewer', 'agent'] as const) {
        const headers: Record<string, string> = role === undefined ? {} : { 'x-api-key': keys[role]! };
        const r = await api.call(method, url, method === 'GET' || method === 'DELETE' ? undefined : {}, headers);
        // Approvals pass the edge for anyone signed in; the API checks [workflows] approver_role (operator here) or admin.
        const approval = / \/api\/tasks\/:id\/(approve|reject)$/.test(entry);
        const allowed = approval
          ? role === 'admin' || role === 'operator'
          : role !== undefined && allows([role], permission);
        const expected = permission === 'public' ? 'pass' : role === undefined ? 401 : allowed ? 'pass' : 403;
        if (expected === 'pass')
          assert.ok(
            r.status !== 401 && r.status !== 403,
            `${entry} as ${role ?? 'nobody'}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`,
          );
        else {
          assert.equal(r.status, expected, `${entry} as ${role ?? 'nobody'}`);
          assert.equal(r.body.error.code, expected === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN');
        }
        checked++;
      }
    }
    assert.ok(checked >= Object.keys(HTTP_PERMISSIONS).length * 5 - 20);
    const audit = await api.get('/api/auth/audit?limit=1000', { authorization: `Bearer ${adminToken}` });
    assert.ok(audit.body.data.events.some((e: any) => e.event === 'permission.denied'));
  });

  it('an approval needs the approver role: a viewer and an agent are refused, an operator approves, audited with who and why', async () => {
    const as = (role: Role): Record<string, string> => ({ 'x-api-key': keys[role]! });
    const t = await api.post('/api/tasks', { title: 'gated', wait_for: { approval: true } }, as('operator'));
    assert.equal(t.status, 201, JSON.stringify(t.body));
    const id = t.body.data.id;
    for (const role of ['viewer', 'agent'] as const) {
      const r = await api.post(`/api/tasks/${id}/approve`, { reason: 'me' }, as(role));
      assert.equal(r.status, 403, `${role}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'FORBIDDEN');
    }
    assert.equal((await api.get(`/api/tasks/${id}`, as('viewer'))).body.data.status, 'waiting', 'nothing changed');
    const ok = await api.post(`/api/tasks/${id}/approve`, { reason: 'looks right' }, as('operator'));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.data.status, 'pending');
    const audit = await api.get('/api/auth/audit?limit=1000', { authorization: `Bearer ${adminToken}` });
    const entry = audit.body.data.events.find((e: any) => e.event === 'task.approved' && e.detail?.task_id === id);
    assert.ok(entry, 'audited');
    assert.equal(entry.detail.reason, 'looks right');
    assert.match(String(entry.principal), /operator/);
  });

  it('keeps /health public and answers the guide login with a clear 401', async () => {
    assert.equal((await api.get('/health')).status, 200);
    const r = await api.post('/auth/login', { username: 'test', password: 'test' });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'UNAUTHENTICATED');
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="ai-orchestrator-hub"');
    assert.equal(
      (await api.post('/auth/login', { username: 'admin', password: ADMIN_PASSWORD, role: 'admin' })).status,
      400,
      'unknown fields are refused',
    );
    const me = await api.get('/api/auth/me', { authorization: `Bearer ${adminToken}` });
    assert.deepEqual([me.body.data.name, me.body.data.roles], ['admin', ['admin']]);
  });

  it('logout revokes the session: its refresh token no longer works', async () => {
    const s = (await api.post('/auth/login', { username: 'admin', password: ADMIN_PASSWORD })).body.data;
    const out = await api.post(
      '/auth/logout',
      { refresh_token: s.refresh_token },
      { authorization: `Bearer ${s.access_token}` },
    );
    assert.equal(out.body.data.revoked, 1);
    assert.equal((await api.post('/auth/refresh', { refresh_token: s.refresh_token })).status, 401);
  });

  it('checks every RPC: none without credentials, viewers read but do not submit, agent keys connect agents', async () => {
    const anonymous = new HiveClient(grpcAddress, 5000);
    await assert.rejects(
      anonymous.hiveStatus(),
      (e: grpc.ServiceError) =>
        e.code === grpc.status.UNAUTHENTICATED && e.metadata.get('hive-error-code')[0] === 'UNAUTHENTICATED',
    );
    const viewer = new HiveClient(grpcAddress, 5000, undefined, { apiKey: keys.viewer });
    assert.equal(typeof (await viewer.hiveStatus())['pending_tasks'], 'number');
    await assert.rejects(
      viewer.submitTask({ title: 'nope' }),
      (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED,
    );
    const operator = new HiveClient(grpcAddress, 5000, undefined, { token: adminToken });
    assert.equal((await operator.submitTask({ title: 'by token' })).created, true);
    const agentKeyClient = new HiveClient(grpcAddress, 5000, undefined, { apiKey: keys.agent });
    await assert.rejects(
      agentKeyClient.listTasks(),
      (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED,
      'agent keys do not read tasks',
    );
    for (const c of [anonymous, viewer, operator, agentKeyClient]) c.close();
    const agent = runAgent(() => 'done', {
      address: grpcAddress,
      name: 'keyed-agent',
      capabilities: [{ name: 'secure', proficiency: 1 }],
      auth: { apiKey: keys.agent },
    });
    assert.match(await agent.registered, /^[0-9a-f-]{36}$/);
    await agent.stop();
  });

  it('walks every gRPC method of the permission table with every role', async () => {
    const proto = (await import('../../src/grpc/proto.js')).hiveProto();
    const requests: Record<string, Record<string, unknown>> = {
      SubmitTask: { task: { title: '' } },
      SubmitTasks: { tasks: [] },
      GetTask: { id: 'nope' },
      ListTasks: {},
      CancelTask: { id: 'nope' },
      ListAgents: {},
      GetHiveStatus: {},
      AnalyzeText: { text: '' },
    };
    for (const [entry, permission] of Object.entries(GRPC_PERMISSIONS)) {
      const [service, method] = entry.split('/') as [string, string];
      for (const role of [undefined, 'admin', 'operator', 'viewer', 'agent'] as const) {
        const meta = new grpc.Metadata();
        if (role !== undefined) meta.set('x-api-key', keys[role]!);
        const code = await new Promise<number>((resolve) => {
          if (service === 'AgentService') {
            const c = new proto.AgentServiceClient(grpcAddress, grpc.credentials.createInsecure()) as any;
            const stream = c.Connect(meta);
            stream.on('data', () => (stream.cancel(), resolve(0)));
            stream.on('error', (e: grpc.ServiceError) => resolve(e.code === grpc.status.CANCELLED ? 0 : e.code));
            stream.write({ register: { name: `walk-${role ?? 'nobody'}`, max_concurrency: 1 } });
            return;
          }
          const c = new proto.HiveServiceClient(grpcAddress, grpc.credentials.createInsecure()) as any;
          if (method === 'WatchTasks') {
            const call = c.WatchTasks({}, meta, { deadline: Date.now() + 300 });
            call.on('data', () => undefined);
            call.on('error', (e: grpc.ServiceError) => resolve(e.code === grpc.status.DEADLINE_EXCEEDED ? 0 : e.code));
            return;
          }
          c[method](requests[method] ?? {}, meta, (e: grpc.ServiceError | null) => resolve(e === null ? 0 : e.code));
        });
        const expected =
          role === undefined
            ? grpc.status.UNAUTHENTICATED
            : allows([role], permission)
              ? 'pass'
              : grpc.status.PERMISSION_DENIED;
        if (expected === 'pass')
          assert.ok(
            code !== Number(grpc.status.UNAUTHENTICATED) && code !== Number(grpc.status.PERMISSION_DENIED),
            `${entry} as ${role}: ${code}`,
          );
        else assert.equal(code, expected, `${entry} as ${role ?? 'nobody'}`);
      }
    }
  });

  it('accepts /ws with a token or key (header or query) and refuses it without', async () => {
    const base = `ws://127.0.0.1:${hub.port}/ws`;
    assert.equal(await wsOpen(base), 401);
    assert.equal(await wsOpen(base, { 'x-api-key': keys.viewer! }), 101);
    assert.equal(await wsOpen(`${base}?access_token=${adminToken}`), 101);
    assert.equal(await wsOpen(`${base}?api_key=${keys.agent}`), 403, 'agent keys do not observe');
  });
});

describe('security: rate limits, the users CLI, refusals to start', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-security-cli-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const env = (dir: string, extra: Record<string, string> = {}) =>
    hubEnv({
      HIVE_DATABASE_DATA_DIR: path.join(tmp, dir),
      HIVE_SERVER_HOST: '127.0.0.1',
      HIVE_SECURITY_ENABLED: 'true',
      HIVE_SECURITY_JWT_SECRET: SECRET,
      ...extra,
    });

  it('answers 429 with Retry-After past the rate limit', async () => {
    const hub = await startHub(
      [],
      env('limits', {
        HIVE_SECURITY_ADMIN_PASSWORD: ADMIN_PASSWORD,
        HIVE_SECURITY_RATE_LIMIT_PER_SECOND: '2',
        HIVE_SECURITY_RATE_LIMIT_BURST: '5',
      }),
    );
    const api = client(hub.port);
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 12; i++) {
      const r = await api.get('/api/tasks');
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get('retry-after');
    }
    assert.ok(statuses.includes(429), statuses.join(','));
    assert.ok(Number(retryAfter) >= 1);
    assert.equal(await hub.stop(), 0);
  });

  it('refuses to start with security on and no users unless HIVE_SECURITY_ADMIN_PASSWORD is set; --check says why a secret is refused', async () => {
    const r = await runCli([], env('nousers'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no users: set HIVE_SECURITY_ADMIN_PASSWORD/);
    const noAdmin = await runCli(['--check'], env('nousers'));
    assert.equal(noAdmin.code, 1);
    assert.match(
      noAdmin.stdout,
      /^FAILED security is enabled and there are no users: set HIVE_SECURITY_ADMIN_PASSWORD/m,
    );
    const withAdmin = await runCli(['--check'], env('nousers', { HIVE_SECURITY_ADMIN_PASSWORD: ADMIN_PASSWORD }));
    assert.equal(withAdmin.code, 0, withAdmin.stdout);
    assert.match(withAdmin.stdout, /^ok +security on, no users yet: the start creates admin/m);
    const check = await runCli(
      ['--check'],
      env('nousers', { HIVE_SECURITY_JWT_SECRET: 'your-256-bit-secret-here-change-this-in-production' }),
    );
    assert.equal(check.code, 1);
    assert.match(
      check.stderr,
      /security\.jwt_secret: is a published example value, not a secret; generate one with `openssl rand -hex 32`/,
    );
    const prod = await runCli(['--config', 'settings/production.toml', '--check'], hubEnv({ HIVE_ENV: 'production' }));
    assert.equal(prod.code, 1);
    assert.match(prod.stderr, /security\.jwt_secret: missing while security\.enabled is true/);
  });

  it('manages users from the command line, reading passwords from stdin', async () => {
    const run = (args: string[], stdin = ''): Promise<{ code: number | null; out: string; err: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
          cwd: ROOT,
          env: env('cli'),
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('exit', (code) => resolve({ code, out, err }));
        child.stdin.end(stdin);
      });
    assert.equal(
      (await run(['users', 'add', 'alice', '--role', 'operator', '--role', 'viewer'], 'alice password 1\n')).code,
      0,
    );
    assert.match((await run(['users', 'list'])).out, /^alice\toperator,viewer\t/m);
    const short = await run(['users', 'passwd', 'alice'], 'short\n');
    assert.equal(short.code, 1);
    assert.match(short.err, /password: must be at least 12 characters/);
    assert.equal((await run(['users', 'passwd', 'alice'], 'alice password 2\n')).code, 0);
    const hub = await startHub([], env('cli'));
    const api = client(hub.port);
    assert.equal((await api.post('/auth/login', { username: 'alice', password: 'alice password 1' })).status, 401);
    const ok = await api.post('/auth/login', { username: 'alice', password: 'alice password 2' });
    assert.deepEqual(ok.body.data.user.roles, ['operator', 'viewer']);
    assert.equal(await hub.stop(), 0);
    assert.equal((await run(['users', 'remove', 'alice'])).code, 0);
    assert.doesNotMatch((await run(['users', 'list'])).out, /alice/);
    assert.match((await run(['users', 'frobnicate'])).err, /users: expected add NAME/);
  });
});
