/**
 * Remote agents: no-op tasks/s through agents connected over gRPC (1 and 8
 * connections) to a hub process on PostgreSQL, against the wire's ceiling in
 * the same run: a raw grpc-js bidi stream that echoes one message per task (256
 * in flight, as the agents' slots), and a raw unary call (grpc.health.v1 Check
 * on a bare server). Tasks are submitted with SubmitTasks in batches of 1,000
 * and counted with WatchTasks. CPU per task is read apart for the hub process,
 * this process (the agents, the submitter and the watcher) and PostgreSQL.
 *
 *   npx tsx bench/remote-agents.ts [--n 20000] [--runs 3] [--count watch|status] [--profile DIR]
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { HiveClient, runAgent } from '../src/grpc/client/index.js';
import { benchDatabase, median } from './lib/pg.js';
import { arg, emit } from './lib/cli.js';
import { startHubProcess } from './lib/hub-process.js';
import { pidCpuMs, readCpu } from './lib/cpu.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const n = Number(arg('n', '20000'));
const runs = Number(arg('runs', '3'));
/** How completions are counted: `watch` (a WatchTasks stream, one event per task) or `status` (GetHiveStatus every 20 ms). */
const count = arg('count', 'watch');
/** A folder: the hub process writes a V8 CPU profile there (--cpu-prof) when it stops. */
const profile = arg('profile', '');

interface AgentRun {
  rate: number;
  /** CPU microseconds per task: the hub process, this process (agents and client), PostgreSQL. */
  hub_us: number;
  client_us: number;
  pg_us: number;
}

async function throughRemoteAgents(connections: number): Promise<AgentRun> {
  const db = await benchDatabase('hive_remote');
  const hub = await startHubProcess(
    { HIVE_DATABASE_URL: db.url, HIVE_AGENTS_DEFAULT_POOL_SIZE: '0', HIVE_TASKS_MAX_PENDING: '10000000' },
    profile,
  );
  const address = `127.0.0.1:${hub.grpcPort}`;
  const agents = Array.from({ length: connections }, (_, i) =>
    runAgent(() => null, {
      address,
      name: `bench-${i}`,
      capabilities: [{ name: 'bench', proficiency: 1 }],
      maxConcurrency: Math.ceil(256 / connections),
    }),
  );
  await Promise.all(agents.map((a) => a.registered));
  const client = new HiveClient(address, 60_000);
  const before = Number((await client.hiveStatus())['completed_tasks']);
  let stop = (): void => undefined;
  const all =
    count === 'watch'
      ? new Promise<void>((resolve) => {
          let done = 0;
          stop = client.watchTasks(
            () => {
              if (++done === n) resolve();
            },
            { types: ['task.completed'] },
          );
        })
      : (async () => {
          while (Number((await client.hiveStatus())['completed_tasks']) - before < n)
            await new Promise((r) => setTimeout(r, 20));
        })();
  await client.hiveStatus();
  const t0 = performance.now();
  const cpu0 = readCpu();
  const hub0 = pidCpuMs(hub.pid);
  for (let i = 0; i < n; i += 1000) {
    await client.submitTasks(
      Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({
        title: `r${i + j}`,
        required_capabilities: [{ name: 'bench', min_proficiency: 0 }],
      })),
    );
  }
  await all;
  const rate = Math.round(n / ((performance.now() - t0) / 1000));
  const cpu1 = readCpu();
  const per = (ms: number): number => Math.round((ms * 1000) / n);
  const cost = {
    hub_us: per(pidCpuMs(hub.pid) - hub0),
    client_us: per(cpu1.nodeMs - cpu0.nodeMs),
    pg_us: per(cpu1.serverMs - cpu0.serverMs),
  };
  stop();
  await Promise.all(agents.map((a) => a.stop()));
  client.close();
  await hub.stop();
  await db.drop();
  return { rate, ...cost };
}

/** The wire's ceiling for one stream: a bare grpc-js bidi echo, one message per task each way, 256 in flight. */
async function rawBidiEcho(): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hub-echo-'));
  const file = path.join(dir, 'echo.proto');
  writeFileSync(
    file,
    'syntax = "proto3"; package bench; message Msg { string id = 1; bytes payload = 2; } service Echo { rpc Stream(stream Msg) returns (stream Msg); }',
  );
  const pkg = (grpc.loadPackageDefinition(protoLoader.loadSync(file)) as any).bench;
  const server = new grpc.Server();
  server.addService(pkg.Echo.service, {
    Stream: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      call.on('data', (m: unknown) => call.write(m));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  const c = new pkg.Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const stream = c.Stream();
  stream.on('error', () => undefined); // cancelled by the shutdown below, once every echo is in
  // About an assignment's size: a task id and a small payload.
  const payload = Buffer.alloc(160, 7);
  let sent = 0;
  let received = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const send = (): void => {
      while (sent < n && sent - received < 256)
        (stream.write({ id: `00000000-0000-4000-8000-${sent}`, payload }), sent++);
    };
    stream.on('data', () => {
      if (++received === n) resolve();
      else send();
    });
    send();
  });
  const rate = Math.round(n / ((performance.now() - t0) / 1000));
  stream.end();
  c.close();
  server.forceShutdown();
  return rate;
}

/** The same number of calls as unary grpc-js round trips (64 in flight) on a bare server. */
async function rawUnary(): Promise<number> {
  const server = new grpc.Server();
  new HealthImplementation({ '': 'SERVING' }).addToServer(server);
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  const Health = (grpc.loadPackageDefinition(protoLoader.loadSync(healthProtoPath, { keepCase: true })) as any).grpc
    .health.v1.Health as grpc.ServiceClientConstructor;
  const c = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as any;
  const check = (): Promise<void> =>
    new Promise((res, rej) => c.Check({ service: '' }, (e: Error | null) => (e ? rej(e) : res())));
  await check();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next++ < n) await check();
    }),
  );
  const rate = Math.round(n / ((performance.now() - t0) / 1000));
  c.close();
  server.forceShutdown();
  return rate;
}

const one: AgentRun[] = [];
const eight: AgentRun[] = [];
const raw: number[] = [];
const echo: number[] = [];
for (let r = 0; r < runs; r++) {
  one.push(await throughRemoteAgents(1));
  eight.push(await throughRemoteAgents(8));
  echo.push(await rawBidiEcho());
  raw.push(await rawUnary());
  process.stderr.write(
    `run ${r + 1}/${runs}: 1 connection ${one[r]!.rate}/s (hub ${one[r]!.hub_us} us, client ${one[r]!.client_us} us, pg ${one[r]!.pg_us} us per task), 8 connections ${eight[r]!.rate}/s, raw bidi echo ${echo[r]}/s, raw unary ${raw[r]}/s\n`,
  );
}
const med = (xs: AgentRun[], k: keyof AgentRun): number => median(xs.map((x) => x[k]));
const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;
emit('remote-agents', {
  n,
  runs,
  count,
  tasks_per_s: {
    one_connection: one.map((x) => x.rate),
    eight_connections: eight.map((x) => x.rate),
    raw_bidi_echo: echo,
    raw_unary_calls: raw,
  },
  median: {
    one_connection: med(one, 'rate'),
    eight_connections: med(eight, 'rate'),
    raw_bidi_echo: median(echo),
    raw_unary_calls: median(raw),
  },
  cpu_us_per_task_median: {
    one_connection: { hub: med(one, 'hub_us'), client: med(one, 'client_us'), postgres: med(one, 'pg_us') },
    eight_connections: { hub: med(eight, 'hub_us'), client: med(eight, 'client_us'), postgres: med(eight, 'pg_us') },
  },
  ratio_to_raw_bidi_echo: {
    one_connection: ratio(med(one, 'rate'), median(echo)),
    eight_connections: ratio(med(eight, 'rate'), median(echo)),
  },
  target_tasks_per_s: 25_000,
  target_ratio_to_raw_bidi_echo: 0.5,
});
process.exit(0);
