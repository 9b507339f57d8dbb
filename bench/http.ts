/**
 * HTTP edge benchmark: requests/s of GET /health and POST /api/tasks on the
 * hub's uWebSockets.js edge vs the same router and request core on node:http,
 * in one run (same process, same store, same handlers), alternating, several
 * runs, medians. The load generator (autocannon) runs in this process; the
 * servers in a child process.
 *
 *   npx tsx bench/http.ts [--runs 3] [--duration 5] [--connections 50] [--store memory|file]
 *
 * Prints one JSON object.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { emit } from './lib/cli.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const runs = Number(arg('runs', '3'));
const duration = Number(arg('duration', '5'));
const connections = Number(arg('connections', '50'));
const store = arg('store', 'memory');

const server = spawn(
  process.execPath,
  ['--import', 'tsx', fileURLToPath(new URL('./http-servers.ts', import.meta.url)), store],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const ports = await new Promise<{ uws: number; node: number }>((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const line = out.split('\n').find((l) => l.startsWith('{'));
    if (line !== undefined) resolve(JSON.parse(line) as { uws: number; node: number });
  });
  server.on('exit', (code) => reject(new Error(`bench servers exited with ${code}`)));
});

const body = JSON.stringify({
  title: 'bench task',
  priority: 'medium',
  required_capabilities: ['general'],
  payload: { n: 1 },
});
const endpoints = {
  'GET /health': { method: 'GET' as const, path: '/health' },
  'POST /api/tasks': {
    method: 'POST' as const,
    path: '/api/tasks',
    body,
    headers: { 'content-type': 'application/json' },
  },
};

async function measure(
  port: number,
  e: (typeof endpoints)[keyof typeof endpoints],
): Promise<{ rps: number; p50: number; p99: number; errors: number; non2xx: number }> {
  const r = await autocannon({
    url: `http://127.0.0.1:${port}${e.path}`,
    method: e.method,
    body: 'body' in e ? e.body : undefined,
    headers: 'headers' in e ? e.headers : undefined,
    connections,
    duration,
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

const results: Record<string, unknown> = {};
for (const [name, e] of Object.entries(endpoints)) {
  const samples: Record<'uws' | 'node', Array<Awaited<ReturnType<typeof measure>>>> = { uws: [], node: [] };
  for (let i = 0; i < runs; i++) {
    // Alternate which goes first, so that warm-up and drift do not favour one.
    const order: Array<'uws' | 'node'> = i % 2 === 0 ? ['uws', 'node'] : ['node', 'uws'];
    for (const which of order) samples[which].push(await measure(ports[which], e));
  }
  const uws = median(samples.uws.map((s) => s.rps));
  const node = median(samples.node.map((s) => s.rps));
  results[name] = {
    uws: {
      rps_median: uws,
      rps_runs: samples.uws.map((s) => s.rps),
      p50_ms: median(samples.uws.map((s) => s.p50)),
      p99_ms: median(samples.uws.map((s) => s.p99)),
      errors: samples.uws.reduce((n, s) => n + s.errors + s.non2xx, 0),
    },
    node_http: {
      rps_median: node,
      rps_runs: samples.node.map((s) => s.rps),
      p50_ms: median(samples.node.map((s) => s.p50)),
      p99_ms: median(samples.node.map((s) => s.p99)),
      errors: samples.node.reduce((n, s) => n + s.errors + s.non2xx, 0),
    },
    ratio_uws_to_node: Math.round((uws / node) * 100) / 100,
  };
}

server.kill('SIGTERM');
emit('http', { store, runs, duration_s: duration, connections, results });
