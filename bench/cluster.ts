/**
 * The cluster: (1) envelopes/s over one node pair's transport stream (tells of
 * a small JSON payload, batched) against a raw grpc-js bidi stream that sends
 * one message per write with the same payload, in the same run; (2) task
 * throughput of 1, 2 and 3 node processes sharing one PostgreSQL database
 * (no-op tasks on 4 echo agents of max_concurrency 64 per node, submitted in
 * bulk across the nodes), counted until every task is completed.
 *
 *   npx tsx bench/cluster.ts [--envelopes 200000] [--tasks 20000] [--runs 3]
 */
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { NodeTransport } from '../cluster/transport.js';
import { clusterProto } from '../cluster/proto.js';
import { createLogger } from '../src/log/logger.js';
import { arg, emit } from './lib/cli.js';
import { startHubProcess, type HubProcess } from './lib/hub-process.js';
import { benchDatabase, median } from './lib/pg.js';

const envelopes = Number(arg('envelopes', '200000'));
const tasks = Number(arg('tasks', '20000'));
const runs = Number(arg('runs', '3'));
const PAYLOAD = { type: 'task.completed', id: '1b4e28ba-2fa1-11d2-883f-0016d3cca427', agent: 'pool-echo-1' };
const log = createLogger({ level: 'error', nodeId: 'bench' });

async function serve(impl: grpc.UntypedServiceImplementation): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(clusterProto().service, impl);
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return { server, port };
}

/** Tells from node a to node b over the transport; envelopes/s until b has them all. */
async function transportPair(): Promise<number> {
  const make = (nodeId: string): NodeTransport =>
    new NodeTransport({
      nodeId,
      log,
      batchMax: 1000,
      queueMax: envelopes + 10,
      queueMaxBytes: 16 << 30,
      askTimeoutMs: 60_000,
      maxMessageBytes: 64 << 20,
      keepaliveMs: 30_000,
    });
  const a = make('a');
  const b = make('b');
  let received = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  b.expose('count', () => {
    if (++received === envelopes) done();
  });
  const sa = await serve(a.service().implementation);
  const sb = await serve(b.service().implementation);
  const members = [
    { node_id: 'a', address: '127.0.0.1', grpc_port: sa.port },
    { node_id: 'b', address: '127.0.0.1', grpc_port: sb.port },
  ];
  a.setPeers(members);
  b.setPeers(members);
  while (!a.connectedPeers().includes('b')) await new Promise((r) => setTimeout(r, 5));
  const t0 = performance.now();
  // Sent in slices so that the sender yields and batches go out while it produces.
  for (let i = 0; i < envelopes; i += 5000) {
    for (let j = i; j < Math.min(envelopes, i + 5000); j++) a.tell('b', 'count', PAYLOAD);
    await new Promise((r) => setImmediate(r));
  }
  await all;
  const rate = Math.round(envelopes / ((performance.now() - t0) / 1000));
  a.close();
  b.close();
  sa.server.forceShutdown();
  sb.server.forceShutdown();
  return rate;
}

/** The same payloads as one message per write on a raw bidi stream (the Link RPC answered by a bare counter). */
async function rawBidi(): Promise<number> {
  let received = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const { server, port } = await serve({
    Link: (stream: grpc.ServerDuplexStream<unknown, unknown>) => {
      stream.on('data', () => {
        if (++received === envelopes) done();
      });
      stream.on('end', () => stream.end());
    },
  });
  const Client = clusterProto().Client;
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const stream = (client as unknown as { Link: () => grpc.ClientDuplexStream<unknown, unknown> }).Link();
  stream.on('error', () => undefined); // cancelled when the client closes
  const payload = Buffer.from(JSON.stringify(PAYLOAD));
  const t0 = performance.now();
  for (let i = 0; i < envelopes; i++) {
    const env = { target: 'count', sender: 'a', correlation_id: 0, kind: 'TELL', payload };
    if (!stream.write({ batch: { envelopes: [env] } })) await new Promise((r) => stream.once('drain', r));
  }
  await all;
  const rate = Math.round(envelopes / ((performance.now() - t0) / 1000));
  stream.end();
  client.close();
  server.forceShutdown();
  return rate;
}

/** Tasks/s of `nodes` node processes on one fresh database. */
async function clusterThroughput(nodes: number): Promise<number> {
  const db = await benchDatabase('hive_cluster');
  const procs: HubProcess[] = [];
  const env = (i: number): Record<string, string> => ({
    HIVE_DATABASE_URL: db.url,
    HIVE_CLUSTER_ENABLED: 'true',
    HIVE_CLUSTER_NODE_ID: `bench-${i}`,
    HIVE_SERVER_HOST: '127.0.0.1',
    HIVE_AGENTS_DEFAULT_POOL_SIZE: '4',
    HIVE_AGENTS_POOL_MAX_CONCURRENCY: '64',
    HIVE_TASKS_CLAIM_BATCH: '1000',
    HIVE_TASKS_MAX_PENDING: '100000000',
  });
  for (let i = 0; i < nodes; i++) procs.push(await startHubProcess(env(i)));
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const completed = async (): Promise<number> =>
    Number(
      (await client.query<{ n: string }>(`SELECT count(*) AS n FROM tasks WHERE status = 'completed'`)).rows[0]?.n ?? 0,
    );
  const t0 = performance.now();
  const batches: Array<Promise<unknown>> = [];
  for (let i = 0; i < tasks; i += 1000) {
    const port = procs[(i / 1000) % nodes]!.httpPort;
    const body = JSON.stringify({
      tasks: Array.from({ length: Math.min(1000, tasks - i) }, (_, j) => ({ title: `b${i + j}` })),
    });
    batches.push(
      fetch(`http://127.0.0.1:${port}/api/tasks/bulk`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      }).then((r) => r.text()),
    );
    if (batches.length >= nodes * 2) await Promise.all(batches.splice(0));
  }
  await Promise.all(batches);
  while ((await completed()) < tasks) await new Promise((r) => setTimeout(r, 20));
  const rate = Math.round(tasks / ((performance.now() - t0) / 1000));
  await client.end();
  await Promise.all(procs.map((p) => p.stop()));
  await db.drop();
  return rate;
}

const pair: number[] = [];
const raw: number[] = [];
const byNodes: Record<string, number[]> = { '1': [], '2': [], '3': [] };
for (let r = 0; r < runs; r++) {
  pair.push(await transportPair());
  raw.push(await rawBidi());
  for (const n of [1, 2, 3]) byNodes[String(n)]!.push(await clusterThroughput(n));
  process.stderr.write(
    `run ${r + 1}/${runs}: transport ${pair[r]}/s, raw bidi ${raw[r]}/s; tasks/s by nodes 1: ${byNodes['1']![r]}, 2: ${byNodes['2']![r]}, 3: ${byNodes['3']![r]}\n`,
  );
}
emit('cluster', {
  envelopes,
  tasks,
  runs,
  envelopes_per_s: { transport_pair: pair, raw_bidi_one_per_write: raw },
  tasks_per_s_by_nodes: byNodes,
  median: {
    transport_pair: median(pair),
    raw_bidi_one_per_write: median(raw),
    transport_vs_raw: Math.round((median(pair) / median(raw)) * 100) / 100,
    tasks_per_s: Object.fromEntries(Object.entries(byNodes).map(([k, v]) => [k, median(v)])),
  },
  target_envelopes_per_s: 100_000,
});
process.exit(0);
