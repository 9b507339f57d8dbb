/**
 * Fuzz: more than 10,000 generated malformed or hostile inputs (HTTP bodies,
 * query strings, headers, path parameters, WebSocket frames, gRPC messages and
 * raw undecodable protobuf) against a hub with security on. The hub must never
 * crash or hang; every answer must be a 4xx (or INVALID_ARGUMENT and the like
 * on gRPC) with a stable code; and afterwards the stored state must be what it
 * was before.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import WebSocket from 'ws';
import { hiveProto } from '../../src/grpc/proto.js';
import { rng } from '../../src/neural/train.js';
import { hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { client, type Client } from '../helpers/http.js';

const SECRET = 'fuzz-secret-'.padEnd(64, 'q');
const random = rng(20261130);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const int = (n: number): number => Math.floor(random() * n);

const STRINGS = [
  '',
  ' ',
  '\u0000',
  '\uffff',
  '\ud800',
  '💥'.repeat(50),
  'a'.repeat(20_000),
  '<script>alert(1)</script>',
  "' OR 1=1; --",
  '../../etc/passwd',
  '%00',
  '${jndi:ldap://x}',
  '__proto__',
  'constructor',
  'NaN',
  '-0',
  '1e400',
];

/** A hostile JSON value, possibly deeply nested. */
function junk(depth = 0): unknown {
  switch (int(depth > 3 ? 6 : 9)) {
    case 0:
      return null;
    case 1:
      return pick([0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 53]);
    case 2:
      return pick(STRINGS);
    case 3:
      return random() < 0.5;
    case 4:
      return pick(STRINGS) + String(int(1e6));
    case 5:
      return [];
    case 6:
      return Array.from({ length: int(4) }, () => junk(depth + 1));
    case 7:
      return Object.fromEntries(
        Array.from({ length: int(4) }, () => [
          pick(['__proto__', 'constructor', 'title', 'x', 'name', 'tasks', '']),
          junk(depth + 1),
        ]),
      );
    default:
      return { [`unknown_${int(1000)}`]: junk(depth + 1) };
  }
}

/** Raw request bodies that can never be valid for the route they go to. */
function hostileBody(route: string): { body: string; type: string } {
  const r = int(10);
  if (r === 0)
    return {
      body: pick(['{', '[1,2', '{"a":}', 'nul', '\u0000\u0001', '{"title": "x"'.repeat(3), '['.repeat(5000)]),
      type: 'application/json',
    };
  if (r === 1)
    return {
      body: JSON.stringify({ title: 'valid looking' }),
      type: pick(['text/plain', 'application/xml', 'multipart/form-data', '']),
    };
  if (r === 2) {
    // Any JSON but an object is wrong for every route; an object gets a field no route knows.
    const j = junk();
    return {
      body: JSON.stringify(
        typeof j === 'object' && j !== null && !Array.isArray(j) ? { ...j, [`unknown_${int(100)}`]: 1 } : j,
      ),
      type: 'application/json',
    };
  }
  // An object with the route's fields of the wrong type, plus (often) an unknown field.
  const fields: Record<string, unknown> = {};
  if (route.includes('tasks'))
    Object.assign(fields, {
      title: pick([null, 42, '', [], {}]),
      priority: junk(),
      required_capabilities: pick(['code', 5, [{}], [{ name: '' }]]),
      payload: junk(),
      depends_on: pick(['x', [1], ['not-a-uuid']]),
    });
  if (route.includes('agents'))
    Object.assign(fields, {
      name: pick([null, 7, '', {}]),
      capabilities: junk(),
      max_concurrency: pick([-1, 0, 1e9, 'two']),
    });
  if (route.includes('bulk'))
    fields['tasks'] = pick([{}, 'x', [junk()], Array.from({ length: 3 }, () => ({ title: 5 }))]);
  if (route.includes('analyze'))
    Object.assign(fields, { text: pick([null, 1, '', 'x'.repeat(10_001)]), texts: pick([[], 'a', [1, null]]) });
  if (route.includes('login')) Object.assign(fields, { username: junk(), password: pick([null, 3]) });
  if (random() < 0.5) fields[`unknown_${int(100)}`] = junk();
  return { body: JSON.stringify(fields), type: 'application/json' };
}

const WRITES = [
  '/api/tasks',
  '/api/tasks/bulk',
  '/api/agents',
  '/api/neural/analyze',
  '/api/neural/analyze/batch',
  '/api/tasks/redrive',
  '/api/tasks/assign',
  '/auth/login',
  '/auth/refresh',
  '/api/auth/users',
  '/api/auth/keys',
];
const READS = [
  '/api/tasks',
  '/api/agents',
  '/api/tasks/pending',
  '/api/hive/status',
  '/api/modules',
  '/api/auth/audit',
  '/health',
];

function hostileQuery(): string {
  const k = pick([
    'limit',
    'offset',
    'status',
    'priority',
    'capability',
    'state',
    'kind',
    'node',
    'detailed',
    'x',
    '__proto__',
    '',
    'limit',
  ]);
  const v = pick([
    '-1',
    '1e9',
    'abc',
    '',
    '%ZZ',
    '0x10',
    'pending&limit=1&limit=2',
    'a'.repeat(500),
    '💥',
    'true;drop',
  ]);
  return `${encodeURIComponent(k)}=${v}`;
}

const HOSTILE_PARAMS = [
  'not-a-uuid',
  '..%2F..%2Fetc',
  '%00',
  'x'.repeat(300),
  '2b1e7c4e-3f7e-4c8e-9d43-00000000000g',
  "'; DROP TABLE tasks; --",
];

describe('fuzz: hostile input never crashes, hangs or changes the hub', function () {
  this.timeout(600_000);
  let tmp: string;
  let hub: RunningHub;
  let api: Client;
  let adminKey = '';
  let grpcAddress = '';
  const answers = { http: 0, ws: 0, grpc: 0 };

  const snapshot = async (): Promise<unknown> => {
    const h = { 'x-api-key': adminKey };
    const [tasks, agents, users, keys] = await Promise.all([
      api.get('/api/tasks?limit=1', h),
      api.get('/api/agents?limit=1000', h),
      api.get('/api/auth/users', h),
      api.get('/api/auth/keys', h),
    ]);
    return {
      tasks: tasks.body.data.total,
      agents: agents.body.data.agents.map((a: any) => [a.id, a.name, a.paused, a.max_concurrency]),
      users: users.body.data.users.map((u: any) => u.username),
      keys: keys.body.data.keys.map((k: any) => [k.id, k.revoked_at]),
    };
  };

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-fuzz-'));
    hub = await startHub(
      [],
      hubEnv({
        HIVE_DATABASE_DATA_DIR: tmp,
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_SECURITY_ENABLED: 'true',
        HIVE_SECURITY_JWT_SECRET: SECRET,
        HIVE_SECURITY_ADMIN_PASSWORD: 'fuzz admin password',
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '2',
        HIVE_SERVER_MAX_BODY_BYTES: '65536',
        HIVE_WEBSOCKET_MAX_MESSAGE_SIZE_MB: '0.01',
        HIVE_SECURITY_LOGIN_MAX_FAILURES: '1000',
        HIVE_GRPC_MAX_MESSAGE_BYTES: '65536',
      }),
    );
    api = client(hub.port);
    grpcAddress = `127.0.0.1:${/"grpc_port":(\d+)/.exec(hub.output())![1]}`;
    const token = (await api.post('/auth/login', { username: 'admin', password: 'fuzz admin password' })).body.data
      .access_token;
    adminKey = (
      await api.post('/api/auth/keys', { name: 'fuzzer', role: 'admin' }, { authorization: `Bearer ${token}` })
    ).body.data.key;
  });

  after(async () => {
    if (hub !== undefined) assert.equal(await hub.stop(), 0, 'the hub stops cleanly after the fuzzing');
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it('HTTP: 7,000 hostile bodies, queries, headers and path parameters, all refused with a 4xx and a code', async () => {
    const before = await snapshot();
    const requests: Array<() => Promise<void>> = [];
    const expect4xx = async (p: Promise<{ status: number; body: any }>, what: string): Promise<void> => {
      const r = await p;
      assert.ok(r.status >= 400 && r.status < 500, `${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
      assert.equal(r.body.success, false, what);
      assert.match(r.body.error.code, /^[A-Z_]+$/, what);
      assert.doesNotMatch(JSON.stringify(r.body), /\bat .+\.(ts|js):\d+/, `${what}: no stack trace`);
      answers.http++;
    };
    for (let i = 0; i < 4000; i++) {
      const route = pick(WRITES);
      const { body, type } = hostileBody(route);
      requests.push(() =>
        expect4xx(
          api.call('POST', route, body, { 'content-type': type, 'x-api-key': adminKey }),
          `POST ${route} ${body.slice(0, 80)}`,
        ),
      );
    }
    for (let i = 0; i < 1500; i++) {
      const route = pick(READS.filter((r) => r !== '/health'));
      requests.push(() =>
        expect4xx(
          api.get(`${route}?${hostileQuery()}&${hostileQuery()}`, { 'x-api-key': adminKey }),
          `GET ${route} query`,
        ),
      );
    }
    for (let i = 0; i < 1000; i++) {
      const p = pick(HOSTILE_PARAMS);
      const route = pick([
        `/api/tasks/${p}`,
        `/api/tasks/${p}/cancel`,
        `/api/agents/${p}`,
        `/api/modules/${p}/restart`,
        `/api/auth/keys/${p}`,
        `/api/agents/${p}/pause`,
      ]);
      const method =
        route.endsWith('cancel') || route.endsWith('restart') || route.endsWith('pause')
          ? 'POST'
          : route.includes('keys')
            ? 'DELETE'
            : 'GET';
      requests.push(() =>
        expect4xx(
          api.call(method, route, method === 'POST' ? {} : undefined, { 'x-api-key': adminKey }),
          `${method} ${route}`,
        ),
      );
    }
    for (let i = 0; i < 500; i++) {
      const headers = pick<Record<string, string>>([
        { authorization: `Bearer ${pick(STRINGS.filter((s) => s.length < 1000 && /^[\x20-\x7e]*$/.test(s)))}x.y.z` },
        { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiIsInJvbGVzIjpbImFkbWluIl19.' },
        { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` },
        { 'x-api-key': `hive_${int(1e8)}_forged` },
        { 'x-api-key': 'k'.repeat(300) },
      ]);
      requests.push(() =>
        expect4xx(
          api.call(pick(['GET', 'POST']), pick(['/api/tasks', '/api/agents', '/api/auth/keys']), undefined, headers),
          `headers ${JSON.stringify(headers).slice(0, 80)}`,
        ),
      );
    }
    // Oversized bodies: 413 before parsing.
    for (let i = 0; i < 20; i++)
      requests.push(() =>
        expect4xx(
          api.call('POST', '/api/tasks', JSON.stringify({ title: 'x', payload: 'y'.repeat(70_000 + i) }), {
            'x-api-key': adminKey,
          }),
          'oversized',
        ),
      );
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < requests.length) await requests[next++]!();
      }),
    );
    assert.deepEqual(await snapshot(), before, 'nothing changed');
    assert.equal((await api.get('/health')).status, 200);
  });

  it('WebSocket: 2,000 malformed frames get error events (oversized ones close 1009), and unauthenticated upgrades are refused', async () => {
    const before = await snapshot();
    const open = (): Promise<{ ws: WebSocket; events: any[]; closed: Promise<number> }> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${hub.port}/ws?api_key=${adminKey}`);
        const events: any[] = [];
        const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
        ws.on('message', (d) => events.push(JSON.parse((d as Buffer).toString())));
        ws.on('open', () => resolve({ ws, events, closed }));
        ws.on('error', reject);
      });
    let c = await open();
    for (let i = 0; i < 2000; i++) {
      const frame = pick<string | Buffer>([
        '{',
        'null',
        JSON.stringify(junk()),
        JSON.stringify({ type: pick(['subscribe', 'unsubscribe', 'nope', '']), topics: junk() }),
        Buffer.from([0xff, 0xfe, int(255)]),
        'x'.repeat(int(3) === 0 ? 20_000 : 100),
      ]);
      const big = typeof frame === 'string' && frame.length > 10_000;
      const errorsBefore = c.events.filter((e) => e.type === 'error').length;
      c.ws.send(frame);
      if (big) {
        assert.equal(await c.closed, 1009);
        c = await open();
      } else {
        const deadline = Date.now() + 5000;
        while (
          c.events.filter((e) => e.type === 'error').length === errorsBefore &&
          !c.events.some((e) => e.type === 'subscribed' || e.type === 'unsubscribed')
        ) {
          assert.ok(Date.now() < deadline, `no answer to ${String(frame).slice(0, 60)}`);
          await new Promise((r) => setTimeout(r, 1));
        }
        const last = c.events.at(-1);
        if (last.type === 'error') assert.match(last.data.code, /^[A-Z_]+$/);
        c.events.length = 0;
      }
      answers.ws++;
    }
    c.ws.close();
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${hub.port}/ws?access_token=forged.token.value`);
      ws.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    assert.equal(refused, 401);
    assert.deepEqual(await snapshot(), before);
  });

  it('gRPC: 1,500 invalid and undecodable messages are refused with INVALID_ARGUMENT (or UNAUTHENTICATED / NOT_FOUND) and a code', async () => {
    const before = await snapshot();
    const proto = hiveProto();
    const meta = new grpc.Metadata();
    meta.set('x-api-key', adminKey);
    const hive = new proto.HiveServiceClient(grpcAddress, grpc.credentials.createInsecure()) as any;
    const raw = new grpc.Client(grpcAddress, grpc.credentials.createInsecure());
    const allowed = new Set([
      grpc.status.INVALID_ARGUMENT,
      grpc.status.NOT_FOUND,
      grpc.status.UNAUTHENTICATED,
      grpc.status.FAILED_PRECONDITION,
      grpc.status.PERMISSION_DENIED,
    ]);
    const check = (err: grpc.ServiceError | null, what: string): void => {
      assert.ok(err !== null, `${what} should be refused`);
      assert.ok(allowed.has(err.code), `${what}: status ${err.code} ${err.details}`);
      assert.match(String(err.metadata.get('hive-error-code')[0] ?? ''), /^[A-Z_]+$/, what);
      answers.grpc++;
    };
    const calls: Array<() => Promise<void>> = [];
    for (let i = 0; i < 700; i++) {
      const [method, req] = pick<[string, Record<string, unknown>]>([
        ['SubmitTask', { task: { title: pick(['', ' ']), payload_json: pick(['{', 'x', '']) } }],
        ['SubmitTask', { task: { title: 'x', priority: pick(['urgent', 'LOW', '💥']) } }],
        ['SubmitTask', { task: { title: 'x', payload_json: pick(['{', '[1,', 'undefined']) } }],
        ['SubmitTasks', { tasks: [] }],
        ['GetTask', { id: pick(HOSTILE_PARAMS) }],
        ['CancelTask', { id: pick(HOSTILE_PARAMS) }],
        ['ListTasks', { status: pick(['weird', 'PENDING', '💥']) }],
        ['ListAgents', { state: 'sleepy' }],
        ['AnalyzeText', { text: pick(['', 'x'.repeat(10_001)]) }],
      ]);
      calls.push(
        () =>
          new Promise<void>((resolve) =>
            hive[method](
              req,
              random() < 0.1 ? new grpc.Metadata() : meta,
              (err: grpc.ServiceError | null) => (
                check(err, `${method} ${JSON.stringify(req).slice(0, 60)}`),
                resolve()
              ),
            ),
          ),
      );
    }
    for (let i = 0; i < 800; i++) {
      const method = pick(['SubmitTask', 'GetTask', 'CancelTask', 'ListTasks', 'AnalyzeText']);
      const bytes = Buffer.from(Array.from({ length: 1 + int(40) }, () => int(256)));
      calls.push(
        () =>
          new Promise<void>((resolve) =>
            raw.makeUnaryRequest(
              `/hive.v1.HiveService/${method}`,
              (b: Buffer) => b,
              (b: Buffer) => b,
              bytes,
              meta,
              (err) => {
                // Random bytes sometimes decode as a valid (empty-ish) message: then the answer is a validation error, never a crash.
                if (err !== null) check(err, `${method} raw ${bytes.toString('hex').slice(0, 20)}`);
                else answers.grpc++;
                resolve();
              },
            ),
          ),
      );
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < calls.length) await calls[next++]!();
      }),
    );
    // A message over [grpc] max_message_bytes is refused before it is read.
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) =>
        hive.SubmitTask(
          { task: { title: 'big', payload_json: JSON.stringify('z'.repeat(70_000 + i)) } },
          meta,
          (err: grpc.ServiceError | null) => {
            assert.equal(err?.code, grpc.status.RESOURCE_EXHAUSTED);
            answers.grpc++;
            resolve();
          },
        ),
      );
    }
    hive.close();
    raw.close();
    assert.deepEqual(await snapshot(), before);
  });

  it('answered more than 10,000 hostile inputs and the hub is still healthy', async () => {
    const total = answers.http + answers.ws + answers.grpc;
    console.log(`      hostile inputs answered: ${JSON.stringify(answers)} = ${total}`);
    assert.ok(total >= 10_000, String(total));
    assert.equal(hub.child.exitCode, null, 'still running');
    assert.equal((await api.get('/health')).body.data.status, 'healthy');
  });
});
