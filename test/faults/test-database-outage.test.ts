/**
 * Invariant 6: the hub keeps serving through database restarts and outages. Each
 * test runs the hub on a private PostgreSQL server (never the machine's shared one)
 * and asserts what users see: the process stays up, requests get fast 503s during
 * the outage, every acknowledged task completes, and every module runs again by
 * itself. At-least-once reruns are counted and printed, not hidden.
 */
import assert from 'node:assert/strict';
import { client, type Client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait-for.js';
import {
  alive,
  faultStack,
  quantile,
  rawAgent,
  requirePrivatePostgres,
  reruns,
  type FaultStack,
} from '../helpers/faults.js';
import type { RunningHub } from '../helpers/cli.js';

const HUB = {
  HIVE_AGENTS_DEFAULT_POOL_SIZE: '4',
  HIVE_AGENTS_POOL_MAX_CONCURRENCY: '16',
  HIVE_AGENTS_DEFAULT_EXECUTOR: 'sleep',
};

async function submitBulk(api: Client, n: number, ms: number): Promise<void> {
  for (let done = 0; done < n; done += 1000) {
    const r = await api.post('/api/tasks/bulk', {
      tasks: Array.from({ length: Math.min(1000, n - done) }, (_, i) => ({
        title: `fault-${done + i}`,
        payload: { ms },
      })),
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
}

async function completed(stack: FaultStack): Promise<number> {
  const [r] = await stack.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE status = 'completed'");
  return r?.n ?? 0;
}

async function modulesRunning(api: Client): Promise<boolean> {
  const r = await api.get('/api/modules').catch(() => undefined);
  const mods = (r?.body?.data?.modules ?? []) as Array<{ status: string }>;
  return mods.length > 0 && mods.every((m) => m.status === 'running');
}

/**
 * The ms from `back` (the database accepting connections again) to the first task
 * stored after it: polls the count from the moment the server is up. The runner's
 * next try comes up to a second later, so the first poll sees the count before it.
 */
async function firstStoredAfter(stack: FaultStack, back: number, timeoutMs: number): Promise<number> {
  const base = await completed(stack);
  await waitFor(async () => (await completed(stack)) > base, timeoutMs, 'a task stored after the database came back');
  return Date.now() - back;
}

describe('faults: the database restarts and goes away', function () {
  this.timeout(240_000);
  let stack: FaultStack;
  let hub: RunningHub;
  let api: Client;

  before(async function () {
    requirePrivatePostgres(this);
    stack = await faultStack();
    hub = await stack.startHub(HUB);
    api = client(hub.port);
  });
  after(async () => stack?.close());

  it('survives a fast restart of PostgreSQL during 3,000 running tasks and completes every one', async () => {
    await submitBulk(api, 3000, 20);
    await waitFor(async () => (await completed(stack)) >= 300, 60_000, '300 completions before the restart');
    stack.pg.stop();
    stack.pg.start();
    const firstMs = await firstStoredAfter(stack, Date.now(), 30_000);
    await waitFor(async () => (await completed(stack)) === 3000, 120_000, 'all 3,000 tasks to complete');
    assert.ok(alive(hub), 'the hub process is still up');
    await waitFor(() => modulesRunning(api), 10_000, 'every module running');
    const n = await reruns(stack);
    console.log(`      restart: first task stored ${firstMs} ms after PostgreSQL was back; ${n} at-least-once reruns`);
  });

  for (const seconds of [10, 60]) {
    it(`answers fast 503s during a ${seconds} s outage, then recovers by itself`, async function () {
      this.timeout(seconds * 1000 + 120_000);
      const total = (await api.get('/api/tasks?limit=1')).body.data.total as number;
      await waitFor(async () => (await completed(stack)) === total, 60_000, 'earlier tasks to complete');
      const agent = rawAgent(
        `127.0.0.1:${/"grpc_port":(\d+)/.exec(hub.output())?.[1]}`,
        `raw-${seconds}`,
        `outage-${seconds}`,
      );
      await waitFor(
        async () =>
          ((await api.get('/api/agents?limit=100')).body.data.agents as Array<{ name: string }>).some(
            (a) => a.name === `raw-${seconds}`,
          ),
        5000,
        'the remote agent registered',
      );
      // Long enough that none ends before the stop: those running end during the outage and wait in memory.
      await submitBulk(api, 500, 300);
      stack.pg.stop();
      const latencies: number[] = [];
      const statuses = new Set<number>();
      const stopAt = Date.now() + seconds * 1000;
      while (Date.now() < stopAt) {
        const t0 = Date.now();
        const r = await api.post('/api/tasks', { title: 'during the outage' });
        latencies.push(Date.now() - t0);
        statuses.add(r.status);
        if (r.status === 503) {
          assert.equal(r.body.error.code, 'DATABASE_UNAVAILABLE');
          assert.ok(Number(r.headers.get('retry-after')) >= 1, 'a 503 carries Retry-After');
        }
        const h = await api.get('/health');
        assert.equal(h.status, 503, '/health is 503 while the database is away');
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual([...statuses], [503], 'every submission during the outage got 503');
      assert.ok(agent.open(), 'the remote agent stayed connected through the outage');
      assert.ok(alive(hub), 'the hub process is still up');
      stack.pg.start();
      const firstMs = await firstStoredAfter(stack, Date.now(), 30_000);
      await waitFor(() => modulesRunning(api), 15_000, 'every module running again without an operator');
      const r = await api.post('/api/tasks', { title: 'after the outage', payload: { ms: 1 } });
      assert.equal(r.status, 201);
      await waitFor(
        async () => (await api.get(`/api/tasks/${r.body.data.id}`)).body.data.status === 'completed',
        30_000,
        'a task submitted after the outage to complete',
      );
      await waitFor(async () => (await api.get('/health')).status === 200, 15_000, '/health healthy again');
      const forAgent = await api.post('/api/tasks', {
        title: 'for the remote agent',
        required_capabilities: [{ name: `outage-${seconds}`, min_proficiency: 0 }],
      });
      assert.equal(forAgent.status, 201);
      await waitFor(
        async () => (await api.get(`/api/tasks/${forAgent.body.data.id}`)).body.data.status === 'completed',
        10_000,
        'the remote agent, on the stream it had before the outage, to complete a task',
      );
      assert.ok(agent.open(), 'the same stream');
      agent.close();
      await waitFor(async () => (await completed(stack)) === total + 502, 60_000, 'every acknowledged task completed');
      console.log(
        `      ${seconds} s outage: p99 time to a 503 ${quantile(latencies, 0.99)} ms over ${latencies.length} submissions; first task stored ${firstMs} ms after the database was back; ${await reruns(stack)} reruns so far`,
      );
    });
  }

  it('survives pg_terminate_backend of every hub connection while tasks run', async () => {
    const start = await completed(stack);
    await submitBulk(api, 1000, 10);
    await waitFor(async () => (await completed(stack)) >= start + 100, 60_000, '100 completions');
    const killed = await stack.pg.terminate('ai-orchestrator-hub');
    assert.ok(killed > 0, 'hub connections were terminated');
    await waitFor(async () => (await completed(stack)) === start + 1000, 60_000, 'every task to complete');
    assert.ok(alive(hub), 'the hub process is still up');
    await waitFor(() => modulesRunning(api), 10_000, 'every module running');
    console.log(`      terminate: ${killed} backends terminated; ${await reruns(stack)} reruns in all`);
  });
});
