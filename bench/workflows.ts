/**
 * Workflow figures on a hub process on PostgreSQL (4 agents x 64 of a bench executor):
 *
 * 1. Timer wake-up lateness: N tasks sleep `--sleep-ms`; each resumed attempt says how
 *    long after its target time it ran (the wake pass, the claim and the dispatch).
 * 2. Signal-to-resume latency: N tasks wait for a signal; signals are sent over REST
 *    (8 at a time); the time from sending to the resumed attempt's first line.
 * 3. Progress chunk latency: an SDK remote agent (in this process) reports 1,000
 *    chunks stamped with their send time; a /ws observer (in this process) receives them.
 * 4. Schedule tick lateness: a schedule every second for `--ticks` ticks; each task's
 *    created_at against its tick.
 *
 *   npx tsx bench/workflows.ts [--n 500] [--sleep-ms 1000] [--runs 3] [--ticks 10]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { runAgent } from '../src/grpc/client/index.js';
import { arg, emit } from './lib/cli.js';
import { benchDatabase, median } from './lib/pg.js';
import { startHubProcess, type HubProcess } from './lib/hub-process.js';

type Msg = Record<string, any>;
const n = Number(arg('n', '500'));
const sleepMs = Number(arg('sleep-ms', '1000'));
const runs = Number(arg('runs', '3'));
const tickCount = Number(arg('ticks', '10'));
const HANDLER = fileURLToPath(new URL('./lib/workflow-handler.mjs', import.meta.url));

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}
const summary = (xs: number[]): Msg => ({ n: xs.length, p50: pct(xs, 50), p99: pct(xs, 99), max: Math.max(...xs) });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function http(hub: HubProcess, method: string, url: string, body?: unknown): Promise<Msg> {
  const r = await fetch(`http://127.0.0.1:${hub.httpPort}${url}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return (await r.json()) as Msg;
}

async function results(hub: HubProcess, ids: string[]): Promise<Msg[]> {
  for (;;) {
    const tasks = await Promise.all(ids.map((id) => http(hub, 'GET', `/api/tasks/${id}`)));
    if (tasks.every((t) => t['data']['status'] === 'completed')) return tasks.map((t) => t['data']['result'] as Msg);
    await sleep(200);
  }
}

async function submitMany(hub: HubProcess, payload: Msg, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 500) {
    const items = Array.from({ length: Math.min(500, count - i) }, (_, j) => ({
      title: `w${i + j}`,
      payload,
      required_capabilities: ['wf'],
    }));
    const r = await http(hub, 'POST', '/api/tasks/bulk', { tasks: items });
    ids.push(...(r['data']['tasks'] as Msg[]).map((t) => String(t['id'])));
  }
  return ids;
}

async function timers(hub: HubProcess): Promise<number[]> {
  const ids = await submitMany(hub, { mode: 'sleep', ms: sleepMs }, n);
  return (await results(hub, ids)).map((r) => Number(r['late_ms']));
}

async function signals(hub: HubProcess): Promise<number[]> {
  const ids = await submitMany(hub, { mode: 'signal' }, n);
  for (;;) {
    const page = await http(hub, 'GET', '/api/tasks?status=waiting&limit=1');
    if (page['data']['total'] >= n) break;
    await sleep(100);
  }
  const sent = new Map<string, number>();
  for (let i = 0; i < ids.length; i += 8)
    await Promise.all(
      ids.slice(i, i + 8).map(async (id) => {
        sent.set(id, Date.now());
        await http(hub, 'POST', `/api/tasks/${id}/signal`, { name: 'go' });
      }),
    );
  const out = await results(hub, ids);
  return out.map((r, i) => Number(r['resumed_at']) - (sent.get(ids[i]!) ?? NaN));
}

async function progress(hub: HubProcess): Promise<number[]> {
  const ws = new WebSocket(`ws://127.0.0.1:${hub.httpPort}/ws`);
  const latencies: number[] = [];
  let taskId = '';
  ws.on('message', (d) => {
    const e = JSON.parse((d as Buffer).toString('utf8')) as Msg;
    if (e['type'] === 'task.progress' && e['data']['task_id'] === taskId)
      latencies.push(Date.now() - Number(String(e['data']['chunk']).split(':')[1]));
  });
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'subscribe', topics: ['tasks'] }));
  await sleep(200);
  const agent = runAgent(
    async (_t, ctx) => {
      for (let i = 0; i < 1000; i++) {
        ctx.progress({ chunk: `${i}:${Date.now()}` });
        if (i % 20 === 19) await sleep(2); // a model streaming tokens: bursts, then a pause
      }
      return null;
    },
    { address: `127.0.0.1:${hub.grpcPort}`, name: 'streamer', capabilities: [{ name: 'stream', proficiency: 1 }] },
  );
  await agent.registered;
  const r = await http(hub, 'POST', '/api/tasks', { title: 'stream', required_capabilities: ['stream'] });
  taskId = String(r['data']['id']);
  while (latencies.length < 1000) await sleep(50);
  await agent.stop();
  ws.close();
  return latencies;
}

async function ticks(hub: HubProcess, run: number): Promise<number[]> {
  const s = await http(hub, 'POST', '/api/schedules', {
    name: `bench-${run}`,
    interval_ms: 1000,
    overlap: 'allow',
    task: { title: 'tick', payload: { mode: 'none' }, required_capabilities: ['wf'] },
  });
  const id = String(s['data']['id']);
  await sleep(tickCount * 1000 + 500);
  await http(hub, 'DELETE', `/api/schedules/${id}`);
  const page = await http(hub, 'GET', '/api/tasks?order=desc&limit=1000');
  return (page['data']['tasks'] as Msg[])
    .filter((t) => t['schedule_id'] === id)
    .map(
      (t) =>
        Date.parse(String(t['created_at'])) - Date.parse(String(t['idempotency_key']).split(':').slice(2).join(':')),
    );
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-wf-'));
  const config = path.join(tmp, 'wf.toml');
  writeFileSync(config, `[agents.executors.wf]\nmodule = ${JSON.stringify(HANDLER)}\n`);
  const all: Record<string, number[][]> = { timer: [], signal: [], progress: [], tick: [] };
  for (let run = 0; run < runs; run++) {
    const db = await benchDatabase();
    const hub = await startHubProcess(
      { HIVE_DATABASE_URL: db.url, HIVE_AGENTS_DEFAULT_POOL_SIZE: '0', HIVE_TASKS_MAX_PENDING: '1000000' },
      '',
      ['--config', config],
    );
    try {
      for (let a = 0; a < 4; a++)
        await http(hub, 'POST', '/api/agents', {
          name: `wf${a}`,
          executor: 'wf',
          max_concurrency: 64,
          capabilities: [{ name: 'wf', proficiency: 1 }],
        });
      all['timer']!.push(await timers(hub));
      all['signal']!.push(await signals(hub));
      all['progress']!.push(await progress(hub));
      all['tick']!.push(await ticks(hub, run));
    } finally {
      await hub.stop();
      await db.drop();
    }
  }
  const figures = Object.fromEntries(
    Object.entries(all).map(([k, perRun]) => {
      const s = perRun.map(summary);
      return [k, { runs: s, p50_median: median(s.map((x) => x['p50'])), p99_median: median(s.map((x) => x['p99'])) }];
    }),
  );
  emit('workflows', {
    config: { n, sleep_ms: sleepMs, runs, ticks: tickCount, agents: '4 x 64', store: 'postgres' },
    figures,
  });
}

await main();
