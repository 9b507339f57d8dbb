/**
 * Remote agents: no-op tasks/s through agents connected over gRPC (1 and 8
 * connections) to a hub process on PostgreSQL, against a raw grpc-js unary call
 * (grpc.health.v1 Check on a bare server) in the same run. Tasks are submitted
 * with SubmitTasks in batches of 1,000 and counted with WatchTasks.
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

const n = Number(arg('n', '20000'));
const runs = Number(arg('runs', '3'));
/** How completions are counted: `watch` (a WatchTasks stream, one event per task) or `status` (GetHiveStatus every 20 ms). */
const count = arg('count', 'watch');
/** A folder: the hub process writes a V8 CPU profile there (--cpu-prof) when it stops. */
const profile = arg('profile', '');

async function throughRemoteAgents(connections: number): Promise<number> {
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
  stop();
  await Promise.all(agents.map((a) => a.stop()));
  client.close();
  await hub.stop();
  await db.drop();
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

const one: number[] = [];
const eight: number[] = [];
const raw: number[] = [];
for (let r = 0; r < runs; r++) {
  one.push(await throughRemoteAgents(1));
  eight.push(await throughRemoteAgents(8));
  raw.push(await rawUnary());
  process.stderr.write(
    `run ${r + 1}/${runs}: 1 connection ${one[r]}/s, 8 connections ${eight[r]}/s, raw unary ${raw[r]}/s\n`,
  );
}
emit('remote-agents', {
  n,
  runs,
  count,
  tasks_per_s: { one_connection: one, eight_connections: eight, raw_unary_calls: raw },
  median: { one_connection: median(one), eight_connections: median(eight), raw_unary_calls: median(raw) },
  target_tasks_per_s: 25_000,
});
process.exit(0);
