/**
 * WebSocket fan-out: task events delivered per second to 1,000 /ws observers
 * subscribed to `tasks`, with their delivery latency, from the hub's WsHub
 * (uWS publish/subscribe) and, in the same run, from the `ws` package doing
 * the same broadcast its documentation shows (serialise once, send to every
 * client). The observers run in another process (bench/lib/ws-observers.ts:
 * raw sockets that count frames); the publisher keeps at most `window` events
 * in flight to the slowest observer, so that both servers run at the rate
 * their observers are served, with nothing dropped. The window queues events,
 * so latency is measured apart: at a fixed `rate` both servers sustain.
 *
 *   npx tsx bench/ws-fanout.ts [--observers 1000] [--seconds 5] [--runs 3] [--window 200] [--rate 50]
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import uWS from 'uWebSockets.js';
import { WebSocketServer } from 'ws';
import { EventBus } from '../src/runtime/index.js';
import { WsHub } from '../src/edge/ws.js';
import { createLogger } from '../src/log/logger.js';
import { arg, emit } from './lib/cli.js';
import { median, percentile } from './lib/pg.js';

const observers = Number(arg('observers', '1000'));
const seconds = Number(arg('seconds', '5'));
const runs = Number(arg('runs', '3'));
const windowSize = Number(arg('window', '200'));
const rate = Number(arg('rate', '50'));

interface Server {
  port: number;
  /** Frames each observer gets before the first event (welcome and subscribed on the hub; one greeting from ws). */
  greetings: number;
  publish(data: Record<string, unknown>): void;
  close(): Promise<void>;
}

/** A task event's data, about the size of a real one (~400 bytes of JSON). */
function event(seq: number): Record<string, unknown> {
  return {
    id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    title: `fan-out ${seq}`,
    type: 'general',
    priority: 'medium',
    status: 'completed',
    assigned_agent: '11111111-2222-4333-8444-555555555555',
    attempts: 1,
    max_attempts: 3,
    result: { ok: true, seq },
    created_at: new Date().toISOString(),
    completed_at: new Date().toISOString(),
    concurrency_keys: [],
    fairness_key: null,
    sent_at: performance.timeOrigin + performance.now(),
  };
}

async function hubServer(): Promise<Server> {
  const bus = new EventBus();
  const hub = new WsHub({
    bus,
    log: createLogger({ level: 'error', nodeId: 'bench' }),
    maxConnections: observers + 10,
    heartbeatSeconds: 3600,
    idleTimeoutSeconds: 120,
    maxMessageBytes: 1 << 20,
    maxBufferedBytes: 1 << 20,
    broadcastSeconds: 3600,
    snapshot: () => Promise.resolve({}),
  });
  const app = uWS.App();
  hub.attach(app);
  const token = await new Promise<uWS.us_listen_socket | false>((r) => app.listen('127.0.0.1', 0, r));
  if (token === false) throw new Error('uWS could not listen');
  return {
    port: uWS.us_socket_local_port(token),
    greetings: 2,
    publish: (data) => bus.publish('tasks', 'task.completed', data),
    close: async () => {
      hub.close();
      uWS.us_listen_socket_close(token);
      await new Promise((r) => setTimeout(r, 100));
    },
  };
}

async function wsServer(): Promise<Server> {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false });
  wss.on('connection', (c) =>
    c.send(JSON.stringify({ type: 'welcome', data: {}, timestamp: new Date().toISOString() })),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return {
    port: address.port,
    greetings: 1,
    publish: (data) => {
      const text = JSON.stringify({ type: 'task.completed', data, timestamp: new Date().toISOString() });
      for (const c of wss.clients) c.send(text);
    },
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

interface RunResult {
  events_per_s: number;
  deliveries_per_s: number;
  /** At the fixed rate, every observer subscribed: from publish to the observer's read. */
  latency_ms_p50: number;
  latency_ms_p99: number;
}

/** A latency percentile in ms, to 0.01. */
function latencyMs(xs: readonly number[], p: number): number {
  return (
    Math.round(
      percentile(
        [...xs].sort((a, b) => a - b),
        p,
      ) * 100,
    ) / 100
  );
}

/** Publishes for `seconds`, at most `windowSize` events ahead of the slowest observer. */
async function measure(make: () => Promise<Server>): Promise<RunResult> {
  const server = await make();
  const child: ChildProcess = fork(
    new URL('./lib/ws-observers.ts', import.meta.url).pathname,
    [String(server.port), String(observers), String(server.greetings)],
    { execArgv: ['--import', 'tsx'] },
  );
  let min = 0;
  const latencies: number[] = [];
  let wake: (() => void) | undefined;
  await new Promise<void>((resolve) =>
    child.on('message', (m: { ready?: boolean; min?: number; latencies?: number[] }) => {
      if (m.ready === true) resolve();
      if (m.min !== undefined) min = m.min;
      if (m.latencies !== undefined) latencies.push(...m.latencies);
      wake?.();
    }),
  );
  let published = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    while (published - min < windowSize) server.publish(event(published++));
    await new Promise<void>((r) => (wake = r));
  }
  const ms = performance.now() - t0;
  const delivered = min;
  // Latency at the fixed rate, once what is in flight has arrived.
  while (min < published) await new Promise<void>((r) => (wake = r));
  latencies.length = 0;
  const perTick = Math.max(1, Math.round(rate / 100));
  const t1 = performance.now();
  while (performance.now() - t1 < Math.min(seconds, 3) * 1000) {
    for (let i = 0; i < perTick; i++) server.publish(event(published++));
    await new Promise((r) => setTimeout(r, (perTick / rate) * 1000));
  }
  while (min < published) await new Promise<void>((r) => (wake = r));
  child.kill();
  await server.close();
  return {
    events_per_s: Math.round(delivered / (ms / 1000)),
    deliveries_per_s: Math.round((delivered * observers) / (ms / 1000)),
    latency_ms_p50: latencyMs(latencies, 50),
    latency_ms_p99: latencyMs(latencies, 99),
  };
}

const systems: Record<string, () => Promise<Server>> = { hub: hubServer, ws: wsServer };
const samples: Record<string, RunResult[]> = {};
for (let r = 0; r < runs; r++) {
  for (const name of r % 2 === 0 ? ['hub', 'ws'] : ['ws', 'hub']) {
    const res = await measure(systems[name]!);
    (samples[name] ??= []).push(res);
    process.stderr.write(
      `run ${r + 1}/${runs} ${name}: ${res.events_per_s} events/s to each of ${observers}, p99 ${res.latency_ms_p99} ms\n`,
    );
  }
}
const med = (name: string, k: keyof RunResult): number => median((samples[name] ?? []).map((x) => x[k]));
const hubRate = med('hub', 'events_per_s');
const wsRate = med('ws', 'events_per_s');
emit('ws-fanout', {
  observers,
  seconds,
  runs,
  window: windowSize,
  events_per_s_median: { hub: hubRate, ws: wsRate },
  deliveries_per_s_median: { hub: med('hub', 'deliveries_per_s'), ws: med('ws', 'deliveries_per_s') },
  latency_rate_events_per_s: rate,
  latency_ms_p99_median: { hub: med('hub', 'latency_ms_p99'), ws: med('ws', 'latency_ms_p99') },
  latency_ms_p50_median: { hub: med('hub', 'latency_ms_p50'), ws: med('ws', 'latency_ms_p50') },
  runs_detail: samples,
  hub_ratio_to_ws: wsRate === 0 ? null : Math.round((hubRate / wsRate) * 100) / 100,
  target_ratio: 5,
});
process.exit(0);
