/**
 * Soak: the hub on a private PostgreSQL server for --minutes (default 30) at half its
 * measured throughput, with remote agents connecting and disconnecting, WebSocket
 * observers churning, and a PostgreSQL restart every --restart-minutes (default 5).
 * Reports the hub's RSS, heap, event-loop lag p99 and open handles at the start and
 * the end (from /metrics/prometheus), every acknowledged task's fate, and the reruns.
 *
 *   npx tsx bench/soak.ts [--minutes 30] [--restart-minutes 5] [--rate N]
 */
import pg from 'pg';
import WebSocket from 'ws';
import { runAgent, type RunningAgent } from '../src/grpc/client/index.js';
import { arg, emit } from './lib/cli.js';
import { startHubProcess } from './lib/hub-process.js';
import { startPrivatePostgres } from './lib/private-postgres.js';

const minutes = Number(arg('minutes', '30'));
const restartMinutes = Number(arg('restart-minutes', '5'));
const fixedRate = Number(arg('rate', '0'));

interface Sample {
  at_s: number;
  rss_mb: number;
  heap_used_mb: number;
  event_loop_lag_p99_ms: number;
  active_handles: number;
}

async function sample(base: string, t0: number): Promise<Sample> {
  const text = await (await fetch(`${base}/metrics/prometheus`)).text();
  const v = (name: string): number =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    at_s: Math.round((Date.now() - t0) / 1000),
    rss_mb: Math.round(v('process_resident_memory_bytes') / 1_048_576),
    heap_used_mb: Math.round(v('nodejs_heap_size_used_bytes') / 1_048_576),
    event_loop_lag_p99_ms: Math.round(v('nodejs_eventloop_lag_p99_seconds') * 1000 * 10) / 10,
    active_handles: v('nodejs_active_handles_total'),
  };
}

async function post(base: string, path: string, body: unknown): Promise<{ status: number; data: any }> {
  try {
    const r = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: r.status, data: ((await r.json()) as { data?: unknown }).data };
  } catch {
    return { status: 0, data: undefined };
  }
}

/** Tasks/s the hub completes with these agents: a burst of 5,000 timed to the last completion. */
/** One query on a fresh connection (the server restarts under the soak), retried until it answers. */
async function query(url: string, sql: string): Promise<Record<string, unknown>> {
  for (let attempt = 0; ; attempt++) {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return (await c.query(sql)).rows[0] as Record<string, unknown>;
    } catch (err) {
      if (attempt >= 30) throw err;
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}

async function measureRate(base: string, url: string): Promise<number> {
  const t0 = Date.now();
  for (let i = 0; i < 5; i++)
    await post(base, '/api/tasks/bulk', {
      tasks: Array.from({ length: 1000 }, (_, j) => ({ title: `measure-${i}-${j}` })),
    });
  for (;;) {
    const n = Number((await query(url, "SELECT count(*)::int AS n FROM tasks WHERE status = 'completed'"))['n']);
    if (n >= 5000) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return 5000 / ((Date.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const server = await startPrivatePostgres();
  const url = await server.createDatabase('hive_soak');
  const hub = await startHubProcess({
    HIVE_DATABASE_URL: url,
    HIVE_AGENTS_DEFAULT_POOL_SIZE: '2',
    HIVE_AGENTS_POOL_MAX_CONCURRENCY: '32',
    HIVE_TASKS_MAX_PENDING: '10000000',
    HIVE_GRPC_AGENT_GRACE_MS: '2000',
  });
  const base = `http://127.0.0.1:${hub.httpPort}`;
  const address = `127.0.0.1:${hub.grpcPort}`;
  const steady: RunningAgent[] = [0, 1].map((i) =>
    runAgent(() => ({ ok: true }), {
      address,
      name: `steady-${i}`,
      capabilities: [{ name: 'soak', proficiency: 1 }],
      maxConcurrency: 32,
    }),
  );
  await Promise.all(steady.map((a) => a.registered));

  const measured = fixedRate > 0 ? fixedRate * 2 : await measureRate(base, url);
  const rate = Math.max(10, Math.round(measured / 2));
  const t0 = Date.now();
  const start = await sample(base, t0);
  const samples: Sample[] = [start];
  const counts = { acknowledged: 0, refused_503: 0, other_errors: 0, restarts: 0, agent_sessions: 0, ws_sessions: 0 };
  const restartTimes: number[] = [];
  let running = true;

  // Submissions: `rate` tasks/s in batches every 200 ms, half for any agent and half for the remote ones.
  const submitter = (async () => {
    let n = 0;
    while (running) {
      const t = Date.now();
      const tasks = Array.from({ length: Math.max(1, Math.round(rate / 5)) }, (_, i) => ({
        title: `soak-${n}-${i}`,
        ...(i % 2 === 0 ? { required_capabilities: [{ name: 'soak', min_proficiency: 0 }] } : {}),
      }));
      const r = await post(base, '/api/tasks/bulk', { tasks });
      if (r.status === 201 || r.status === 200) counts.acknowledged += tasks.length;
      else if (r.status === 503) counts.refused_503++;
      else counts.other_errors++;
      n++;
      await new Promise((res) => setTimeout(res, Math.max(0, 200 - (Date.now() - t))));
    }
  })();

  // A remote agent that connects, works for 5 to 15 s, and leaves (cleanly or by cutting its stream), over and over.
  const churner = (async () => {
    while (running) {
      const a = runAgent(() => ({ churned: true }), {
        address,
        name: `churn-${counts.agent_sessions % 3}`,
        capabilities: [{ name: 'soak', proficiency: 0.8 }],
        maxConcurrency: 8,
      });
      counts.agent_sessions++;
      await Promise.race([a.registered, new Promise((r) => setTimeout(r, 10_000))]);
      await new Promise((r) => setTimeout(r, 5000 + Math.random() * 10_000));
      if (counts.agent_sessions % 2 === 0) await a.stop().catch(() => undefined);
      else a.disconnect();
      if (counts.agent_sessions % 2 === 1) await a.stop().catch(() => undefined);
    }
  })();

  // WebSocket observers: three at a time, each subscribed for 2 to 8 s.
  const observers = [0, 1, 2].map(async () => {
    while (running) {
      counts.ws_sessions++;
      await new Promise<void>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${hub.httpPort}/ws`);
        ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', topics: ['tasks', 'agents', 'hive'] })));
        ws.on('error', () => resolve());
        ws.on('close', () => resolve());
        setTimeout(() => ws.close(), 2000 + Math.random() * 6000);
      });
    }
  });

  const end = t0 + minutes * 60_000;
  let nextRestart = t0 + restartMinutes * 60_000;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 10_000));
    if (!hub.alive()) throw new Error('the hub process exited during the soak');
    if (Date.now() >= nextRestart && Date.now() < end - 30_000) {
      server.restart();
      counts.restarts++;
      restartTimes.push(Math.round((Date.now() - t0) / 1000));
      nextRestart += restartMinutes * 60_000;
    }
    const s = await sample(base, t0).catch(() => undefined);
    if (s !== undefined) samples.push(s);
  }
  running = false;
  await submitter;
  await Promise.race([churner, new Promise((r) => setTimeout(r, 20_000))]);
  await Promise.all(observers);
  // Drain: every acknowledged task must complete.
  const drainStart = Date.now();
  let completed = 0;
  let total = 0;
  for (;;) {
    const rows = await query(
      url,
      "SELECT count(*) FILTER (WHERE status = 'completed')::int AS c, count(*)::int AS t FROM tasks WHERE title LIKE 'soak-%'",
    );
    completed = Number(rows['c']);
    total = Number(rows['t']);
    if (completed === total || Date.now() - drainStart > 120_000) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const reruns = Number(
    (
      await query(
        url,
        "SELECT COALESCE(sum(attempts - 1), 0)::int AS n FROM tasks WHERE title LIKE 'soak-%' AND status = 'completed'",
      )
    )['n'],
  );
  const last = await sample(base, t0);
  samples.push(last);
  // Compare like with like: the end against the first sample after warm-up (the 10-minute mark, or the second sample).
  const warm = samples.find((s) => s.at_s >= Math.min(600, minutes * 30)) ?? start;
  await Promise.all(steady.map((a) => a.stop().catch(() => undefined)));
  await hub.stop();
  server.destroy();
  emit('soak', {
    config: {
      minutes,
      restart_minutes: restartMinutes,
      measured_tasks_per_s: Math.round(measured),
      soak_tasks_per_s: rate,
    },
    figures: {
      acknowledged: counts.acknowledged,
      stored: total,
      completed,
      lost: counts.acknowledged - completed,
      reruns,
      refused_503_batches: counts.refused_503,
      other_errors: counts.other_errors,
      postgres_restarts: counts.restarts,
      restarts_at_s: restartTimes,
      agent_sessions: counts.agent_sessions,
      ws_sessions: counts.ws_sessions,
      start,
      warm,
      end: last,
      rss_growth_percent_from_warm: Math.round(((last.rss_mb - warm.rss_mb) / warm.rss_mb) * 1000) / 10,
      rss_growth_percent_from_start: Math.round(((last.rss_mb - start.rss_mb) / start.rss_mb) * 1000) / 10,
    },
    samples,
  });
}

await main();
process.exit(0);
