/**
 * Invariants 8 and 9: every stream's unsent data is bounded in bytes (a reader that
 * stops reading is cut, the hub's memory stays bounded), and a stream lives only as
 * long as its credentials (revocation, removal, expiry close it within 2 s).
 * Also: a remote agent killed mid-stream gets no new work; a live one gets it at once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import WebSocket from 'ws';
import { hiveProto } from '../../src/grpc/proto.js';
import { runAgent } from '../../src/grpc/client/index.js';
import { spawn } from 'node:child_process';
import { ROOT, hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { client, type Client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait-for.js';
import { SECURED_ADMIN_PASSWORD, securedHub } from '../helpers/faults.js';

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Math.round(Number(m?.[1] ?? 0) / 1024);
}

function meta(headers: Record<string, string>): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  return md;
}

type RawStream =
  | grpc.ClientDuplexStream<Record<string, unknown>, Record<string, unknown>>
  | grpc.ClientReadableStream<Record<string, unknown>>;

/** The status a stream ended with (its error's code, or OK), or undefined while it is open. */
function statusOf(stream: RawStream): () => number | undefined {
  let code: number | undefined;
  stream.on('error', (err: grpc.ServiceError) => (code ??= err.code));
  stream.on('status', (s: grpc.StatusObject) => (code ??= s.code));
  return () => code;
}

function watchRaw(
  address: string,
  headers: Record<string, string> = {},
): grpc.ClientReadableStream<Record<string, unknown>> {
  const c = new (hiveProto().HiveServiceClient)(address, grpc.credentials.createInsecure());
  return (
    c as unknown as {
      WatchTasks: (r: unknown, md: grpc.Metadata) => grpc.ClientReadableStream<Record<string, unknown>>;
    }
  ).WatchTasks({}, meta(headers));
}

function connectRaw(
  address: string,
  headers: Record<string, string>,
  name: string,
  capability: string,
  maxConcurrency: number,
): grpc.ClientDuplexStream<Record<string, unknown>, Record<string, unknown>> {
  const c = new (hiveProto().AgentServiceClient)(address, grpc.credentials.createInsecure());
  const s = (
    c as unknown as {
      Connect: (md: grpc.Metadata) => grpc.ClientDuplexStream<Record<string, unknown>, Record<string, unknown>>;
    }
  ).Connect(meta(headers));
  s.write({
    register: { name, capabilities: [{ name: capability, proficiency: 1 }], max_concurrency: maxConcurrency },
  });
  return s;
}

function grpcAddress(hub: RunningHub): string {
  return `127.0.0.1:${/"grpc_port":(\d+)/.exec(hub.output())?.[1]}`;
}

describe('faults: readers that stop reading', function () {
  this.timeout(120_000);
  let tmp: string;
  let hub: RunningHub;
  let api: Client;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-slow-'));
    hub = await startHub(
      [],
      hubEnv({
        HIVE_DATABASE_DATA_DIR: tmp,
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '4',
        HIVE_AGENTS_DEFAULT_EXECUTOR: 'echo',
        HIVE_GRPC_MAX_UNSENT_BYTES: '2097152',
        HIVE_GRPC_AGENT_GRACE_MS: '1000',
        HIVE_SERVER_MAX_BODY_BYTES: '16777216',
        HIVE_TASKS_MAX_PENDING: '100000',
      }),
    );
    api = client(hub.port);
  });
  after(async () => {
    if (hub !== undefined) await hub.stop();
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  /** Submits 2,000 tasks of 40 KB (events of 40 KB each, twice with the echoed result) and waits for them; the peak RSS seen. */
  async function bigLoad(label: string): Promise<number> {
    const before = (await api.get('/api/tasks?status=completed&limit=1')).body.data.total as number;
    const text = 'x'.repeat(40_000);
    let peak = rssMb(hub.child.pid!);
    for (let b = 0; b < 20; b++) {
      const r = await api.post('/api/tasks/bulk', {
        tasks: Array.from({ length: 100 }, (_, i) => ({ title: `${label}-${b}-${i}`, payload: { text } })),
      });
      assert.equal(r.status, 201);
      peak = Math.max(peak, rssMb(hub.child.pid!));
    }
    await waitFor(
      async () => {
        peak = Math.max(peak, rssMb(hub.child.pid!));
        return (await api.get('/api/tasks?status=completed&limit=1')).body.data.total === before + 2000;
      },
      60_000,
      '2,000 big tasks to complete',
    );
    return peak;
  }

  it('cuts paused WatchTasks readers under 40 KB events with RESOURCE_EXHAUSTED; the hub RSS stays bounded', async () => {
    const address = grpcAddress(hub);
    // The same load without watchers first: what the load itself costs (and a warmed heap for the run that counts).
    const start = rssMb(hub.child.pid!);
    const baselinePeak = await bigLoad('warm');
    const before = rssMb(hub.child.pid!);
    const watchers = Array.from({ length: 5 }, () => {
      const w = watchRaw(address);
      const status = statusOf(w);
      w.pause(); // never reads
      return { w, status };
    });
    await new Promise((r) => setTimeout(r, 200));
    const peak = await bigLoad('big');
    for (const x of watchers) x.w.resume(); // read what is left, to see the status
    await waitFor(() => watchers.every((x) => x.status() !== undefined), 10_000, 'every paused watcher to be cut');
    assert.ok(
      watchers.every((x) => x.status() === grpc.status.RESOURCE_EXHAUSTED),
      `statuses ${watchers.map((x) => x.status()).join(',')}`,
    );
    console.log(
      `      5 paused WatchTasks readers, 2,000 events of 40-80 KB each (about 120 MB per reader unbounded): hub RSS ${before} -> peak ${peak} MB (+${peak - before} MB); the same load without readers: ${start} -> ${baselinePeak} MB`,
    );
    // Unbounded, five readers would hold some 600 MB of encoded messages; bounded, 5 x 2 MiB.
    assert.ok(peak - before < 300, `RSS grew ${peak - before} MB with the paused readers`);
  });

  it('cuts a paused AgentService reader; after the grace its tasks complete on a live agent', async () => {
    const address = grpcAddress(hub);
    const stalled = connectRaw(address, {}, 'stalled', 'slow-read', 1000);
    const status = statusOf(stalled);
    await new Promise<void>((resolve) => stalled.once('data', () => resolve())); // Registered
    stalled.pause();
    const text = 'y'.repeat(40_000);
    const r = await api.post('/api/tasks/bulk', {
      tasks: Array.from({ length: 300 }, (_, i) => ({
        title: `sr-${i}`,
        payload: { text },
        required_capabilities: [{ name: 'slow-read', min_proficiency: 0 }],
      })),
    });
    assert.equal(r.status, 201);
    stalled.resume();
    await waitFor(() => status() !== undefined, 20_000, 'the paused agent to be cut');
    assert.equal(status(), grpc.status.RESOURCE_EXHAUSTED);
    const live = runAgent((task) => ({ ok: task.id }), {
      address,
      name: 'live-reader',
      capabilities: [{ name: 'slow-read', proficiency: 1 }],
      maxConcurrency: 32,
    });
    await live.registered;
    await waitFor(
      async () => (await api.get('/api/tasks?capability=slow-read&status=completed&limit=1')).body.data.total === 300,
      30_000,
      'the 300 tasks to complete on the live agent',
    );
    await live.stop();
  });

  it('gives new tasks to a live agent at once, not to an agent process killed with SIGKILL', async () => {
    const address = grpcAddress(hub);
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/stuck-agent.ts', address], { cwd: ROOT });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('REGISTERED'), 20_000, 'the agent process to register');
    const live = runAgent((task) => ({ ok: task.id }), {
      address,
      name: 'survivor',
      capabilities: [{ name: 'doomed-remote', proficiency: 0.5 }],
      maxConcurrency: 8,
    });
    await live.registered;
    child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const sub = await api.post('/api/tasks', {
      title: 'after the kill',
      required_capabilities: [{ name: 'doomed-remote', min_proficiency: 0 }],
    });
    await waitFor(
      async () => (await api.get(`/api/tasks/${sub.body.data.id}`)).body.data.status === 'completed',
      5000,
      'the new task to complete on the live agent',
    );
    const ms = Date.now() - t0;
    assert.ok(ms < 1000, `completed in ${ms} ms, inside the dead agent's grace of 1,000 ms`);
    console.log(
      `      a task submitted 300 ms after SIGKILL of an agent process completed on the live agent in ${ms} ms (grace 1,000 ms)`,
    );
    await live.stop();
  });
});

describe('faults: credentials revoked while streams are open', function () {
  this.timeout(120_000);
  let secured: Awaited<ReturnType<typeof securedHub>>;
  let hub: RunningHub;
  let api: Client;
  let admin: Record<string, string>;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    secured = await securedHub('hub-revoke-');
    ({ hub, env, admin } = secured);
    api = client(hub.port);
  });
  after(async () => secured?.close());

  async function key(role: string): Promise<{ id: string; key: string }> {
    const r = await api.post(
      '/api/auth/keys',
      { name: `${role}-${Math.random().toString(36).slice(2, 8)}`, role },
      admin,
    );
    assert.equal(r.status, 201);
    return { id: r.body.data.id, key: r.body.data.key };
  }

  function wsClosed(
    url: string,
    headers: Record<string, string>,
  ): Promise<{ ws: WebSocket; closed: Promise<{ code: number; at: number }> }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      const closed = new Promise<{ code: number; at: number }>((r) =>
        ws.on('close', (code) => r({ code, at: Date.now() })),
      );
      ws.on('open', () => {
        ws.send(JSON.stringify({ action: 'subscribe', topics: ['tasks'] }));
        resolve({ ws, closed });
      });
      ws.on('error', reject);
    });
  }

  it('closes /ws (4401), WatchTasks and AgentService streams (UNAUTHENTICATED) within 2 s of a key revocation', async () => {
    const viewer = await key('viewer');
    const agentKey = await key('agent');
    const address = grpcAddress(hub);
    const ws = await wsClosed(`ws://127.0.0.1:${hub.port}/ws`, { 'x-api-key': viewer.key });
    const watch = watchRaw(address, { 'x-api-key': viewer.key });
    watch.on('data', () => undefined);
    const watchStatus = statusOf(watch);
    const agent = connectRaw(address, { 'x-api-key': agentKey.key }, 'revocable', 'secret-work', 4);
    agent.on('data', () => undefined);
    const agentStatus = statusOf(agent);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(watchStatus(), undefined, 'the watch is open');
    assert.equal(agentStatus(), undefined, 'the agent stream is open');
    const revokedAt = Date.now();
    assert.equal((await api.call('DELETE', `/api/auth/keys/${viewer.id}`, undefined, admin)).status, 200);
    assert.equal((await api.call('DELETE', `/api/auth/keys/${agentKey.id}`, undefined, admin)).status, 200);
    const closed = await ws.closed;
    assert.equal(closed.code, 4401);
    await waitFor(() => watchStatus() !== undefined && agentStatus() !== undefined, 3000, 'both gRPC streams to end');
    assert.equal(watchStatus(), grpc.status.UNAUTHENTICATED);
    assert.equal(agentStatus(), grpc.status.UNAUTHENTICATED);
    const ms = Date.now() - revokedAt;
    assert.ok(
      closed.at - revokedAt < 2000 && ms < 2500,
      `closed after ${closed.at - revokedAt} ms (ws) / ${ms} ms (all)`,
    );
    console.log(`      key revocation: /ws closed after ${closed.at - revokedAt} ms, every stream within ${ms} ms`);
    // A task with a secret payload submitted now never reaches the revoked agent.
    const t = await api.post(
      '/api/tasks',
      {
        title: 'secret',
        payload: { s: 'classified' },
        required_capabilities: [{ name: 'secret-work', min_proficiency: 0 }],
      },
      admin,
    );
    assert.equal(t.status, 201);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await api.get(`/api/tasks/${t.body.data.id}`, admin)).body.data.status, 'pending');
  });

  function cli(args: string[], stdin = ''): Promise<number | null> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
        cwd: ROOT,
        env: { ...env, HIVE_SECURITY_ADMIN_PASSWORD: '' },
      });
      child.on('exit', (code) => resolve(code));
      child.stdin.end(stdin);
    });
  }

  it("closes a removed user's /ws and WatchTasks streams within 2 s", async () => {
    assert.equal(await cli(['users', 'add', 'watcher', '--role', 'viewer'], 'watcher password 1\n'), 0);
    const login = await api.post('/auth/login', { username: 'watcher', password: 'watcher password 1' });
    assert.equal(login.status, 200);
    const bearer = { authorization: `Bearer ${login.body.data.access_token}` };
    const ws = await wsClosed(`ws://127.0.0.1:${hub.port}/ws`, bearer);
    const watch = watchRaw(grpcAddress(hub), bearer);
    watch.on('data', () => undefined);
    const watchStatus = statusOf(watch);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(watchStatus(), undefined);
    const cliStarted = Date.now();
    assert.equal(await cli(['users', 'remove', 'watcher']), 0);
    // The user is gone by the time the CLI returns (maybe earlier): the bound counts from there.
    const removedAt = Date.now();
    const closed = await ws.closed;
    await waitFor(() => watchStatus() !== undefined, 3000, 'the watch to end');
    assert.equal(closed.code, 4401);
    assert.equal(watchStatus(), grpc.status.UNAUTHENTICATED);
    console.log(
      `      user removal (by another process): /ws closed ${closed.at - removedAt} ms after the CLI returned (${closed.at - cliStarted} ms after it started)`,
    );
    assert.ok(closed.at - removedAt < 2000);
  });
});

describe('faults: an access token expires while its streams are open', function () {
  this.timeout(60_000);
  let secured: Awaited<ReturnType<typeof securedHub>>;
  let hub: RunningHub;

  before(async () => {
    // 0.001 h: tokens live 3.6 s.
    secured = await securedHub('hub-expiry-', {
      HIVE_SECURITY_JWT_EXPIRATION_HOURS: '0.001',
      HIVE_AGENTS_DEFAULT_POOL_SIZE: '0',
    });
    hub = secured.hub;
  });
  after(async () => secured?.close());

  it('closes /ws with 4401 and WatchTasks with UNAUTHENTICATED within 2 s of the expiry', async () => {
    const api = client(hub.port);
    const login = await api.post('/auth/login', { username: 'admin', password: SECURED_ADMIN_PASSWORD });
    const expiresAt = Date.now() + Number(login.body.data.expires_in) * 1000;
    const bearer = { authorization: `Bearer ${login.body.data.access_token}` };
    const ws = await new Promise<{ closed: Promise<{ code: number; at: number }> }>((resolve, reject) => {
      const s = new WebSocket(`ws://127.0.0.1:${hub.port}/ws`, { headers: bearer });
      const closed = new Promise<{ code: number; at: number }>((r) =>
        s.on('close', (code) => r({ code, at: Date.now() })),
      );
      s.on('open', () => resolve({ closed }));
      s.on('error', reject);
    });
    const watch = watchRaw(grpcAddress(hub), bearer);
    watch.on('data', () => undefined);
    const watchStatus = statusOf(watch);
    const closed = await ws.closed;
    await waitFor(() => watchStatus() !== undefined, 3000, 'the watch to end');
    assert.equal(closed.code, 4401);
    assert.equal(watchStatus(), grpc.status.UNAUTHENTICATED);
    console.log(`      token expiry: /ws closed ${closed.at - expiresAt} ms after the token's exp`);
    assert.ok(closed.at - expiresAt < 2000 && closed.at >= expiresAt - 1000);
  });
});
