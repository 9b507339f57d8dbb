/**
 * Flow control on a running hub of each store: a concurrency key held to its
 * limit while other keys run, a rate limit's measured dispatch rate, a token
 * budget settled to reported usage, fair share between tenants, the reasons in
 * explain, history and /ws, run-time rules, gRPC fields, and bad input.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HiveClient } from '../../src/grpc/client/index.js';
import { hiveProto } from '../../src/grpc/proto.js';
import { hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { client, type Client } from '../helpers/http.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';
import { observer } from '../helpers/ws.js';
import { waitFor } from '../helpers/wait-for.js';
import { maxOverlap } from '../helpers/spans.js';

type Msg = Record<string, any>;

const CONFIG = `
[agents.executors.usage]
module = "test/fixtures/handlers/usage.mjs"

[flow]
units = ["tokens"]
[flow.concurrency."k:*"]
limit = 3
[flow.rate."rated"]
limit = 50
window_ms = 1000
burst = 5
[flow.budget."llm"]
unit = "tokens"
per_minute = 10000
[flow.fairness."heavy"]
weight = 1
`;

function flowSuite(engine: 'sqlite' | 'postgres'): void {
  describe(`flow control on a running hub (${engine})`, function () {
    this.timeout(120_000);
    let tmp: string;
    let db: TestDatabase | undefined;
    let hub: RunningHub;
    let api: Client;
    let grpcPort: string;

    before(async function () {
      if (engine === 'postgres') {
        await requirePostgres(this);
        db = await createTestDatabase();
      }
      tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-flow-'));
      const file = path.join(tmp, 'flow.toml');
      writeFileSync(file, CONFIG);
      const env: Record<string, string> = {
        HIVE_DATABASE_DATA_DIR: tmp,
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '0',
      };
      if (db !== undefined) env['HIVE_DATABASE_URL'] = db.url;
      hub = await startHub(['--config', file], hubEnv(env));
      api = client(hub.port);
      grpcPort = /"grpc_port":(\d+)/.exec(hub.output())![1]!;
      // 20 agent slots.
      for (let i = 0; i < 4; i++) {
        const r = await api.post('/api/agents', { name: `w${i}`, executor: 'usage', max_concurrency: 5 });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
    });

    after(async () => {
      if (hub !== undefined) assert.equal(await hub.stop(), 0);
      if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
      await db?.drop();
    });

    const bulk = async (items: Msg[]): Promise<string[]> => {
      const ids: string[] = [];
      for (let i = 0; i < items.length; i += 1000) {
        const r = await api.post('/api/tasks/bulk', { tasks: items.slice(i, i + 1000) });
        assert.equal(r.status, 201, JSON.stringify(r.body).slice(0, 400));
        ids.push(...(r.body.data.tasks as Msg[]).map((t) => t['task']?.id ?? t['id']));
      }
      return ids;
    };
    const task = async (id: string): Promise<Msg> => (await api.get(`/api/tasks/${id}`)).body.data;
    const allDone = async (ids: string[], what: string, ms = 60_000): Promise<Msg[]> =>
      (await waitFor<Msg[] | undefined>(
        async () => {
          const tasks = await Promise.all(ids.map(task));
          return tasks.every((t) => t['status'] === 'completed') ? tasks : undefined;
        },
        ms,
        what,
      ))!;
    const spans = (tasks: Msg[]): Array<[number, number]> =>
      tasks.map((t) => [Date.parse(t['started_at']), Date.parse(t['completed_at'])]);

    it('holds a key to its limit (3 of 20 slots), explains the wait, and runs the other keys meanwhile', async () => {
      const ws = await observer(hub.port, ['tasks']);
      const held = await bulk(
        Array.from({ length: 30 }, (_, i) => ({ title: `k${i}`, concurrency_key: 'k:a', payload: { ms: 100 } })),
      );
      const free = await bulk(
        Array.from({ length: 40 }, (_, i) => ({ title: `f${i}`, concurrency_key: ['other'], payload: { ms: 100 } })),
      );
      const waiting = await waitFor(
        async () => {
          const e = (await api.get(`/api/tasks/${held[29]}/explain`)).body.data;
          return e.code === 'CONCURRENCY_LIMIT' ? e : undefined;
        },
        10_000,
        'a held task to explain its key',
      );
      assert.match(waiting.message, /concurrency key "k:a" is at its limit: 3 of 3 tasks hold it/);
      assert.equal(waiting.details.key, 'k:a');
      assert.ok(waiting.details.ahead > 0);
      const pending = (await api.get('/api/tasks/pending?limit=200')).body.data.tasks as Msg[];
      assert.ok(
        pending.some((t) => t['waiting']?.code === 'CONCURRENCY_LIMIT'),
        'the pending view says so too',
      );
      const state = (await api.get('/api/flow/keys/k:a')).body.data;
      assert.ok(state.running <= 3 && state.waiting > 0, JSON.stringify(state));
      const freeTasks = await allDone(free, 'the other key');
      const heldTasks = await allDone(held, 'the limited key');
      assert.ok(maxOverlap(spans(heldTasks)) <= 3, `at most 3 at once, saw ${maxOverlap(spans(heldTasks))}`);
      assert.ok(maxOverlap(spans(freeTasks)) > 3, 'the unlimited key used more slots');
      const lastFree = Math.max(...freeTasks.map((t) => Date.parse(t['completed_at'])));
      const lastHeld = Math.max(...heldTasks.map((t) => Date.parse(t['completed_at'])));
      assert.ok(lastFree < lastHeld - 300, 'the other key did not queue behind the limited one');
      const history = (await task(held[29]!))['events'] as Msg[];
      assert.ok(
        history.some((e) => e['detail']?.waiting?.code === 'CONCURRENCY_LIMIT'),
        'the history records the wait',
      );
      assert.ok(
        ws.events.some((e) => e.type === 'task.waiting' && e.data?.waiting?.code === 'CONCURRENCY_LIMIT'),
        '/ws tells observers',
      );
      ws.ws.close();
    });

    it('dispatches a rate-limited key at its rate (50/s within 10 %) and others unaffected', async () => {
      const rated = await bulk(Array.from({ length: 650 }, (_, i) => ({ title: `r${i}`, concurrency_key: 'rated' })));
      const free = await bulk(Array.from({ length: 300 }, (_, i) => ({ title: `u${i}` })));
      const freeTasks = await allDone(free, 'the unlimited tasks', 20_000);
      const ratedTasks = await allDone(rated, 'the rated tasks', 40_000);
      const starts = ratedTasks.map((t) => Date.parse(t['started_at'])).sort((a, b) => a - b);
      const t0 = starts[0]! + 1000; // after the first burst
      const inWindow = starts.filter((s) => s >= t0 && s < t0 + 10_000).length;
      const rate = inWindow / 10;
      assert.ok(rate >= 45 && rate <= 55, `measured ${rate}/s over 10 s`);
      const freeEnd = Math.max(...freeTasks.map((t) => Date.parse(t['completed_at'])));
      assert.ok(freeEnd < starts[0]! + 5000, 'the unlimited tasks did not wait for the rated key');
    });

    it('reserves token estimates and settles them to the usage agents report', async () => {
      const ids = await bulk(
        Array.from({ length: 40 }, (_, i) => ({
          title: `b${i}`,
          concurrency_key: 'llm',
          cost: { tokens: 1000 },
          payload: { usage: { tokens: 500 } },
        })),
      );
      // 10 estimates of 1,000 fill the 10,000; each settles to 500 used, and what comes back admits more
      // (5, then 2, then 1, ...): 19 fit (18 x 500 used + one 1,000 reserved), plus the refill (167/s).
      const completedNow = async (): Promise<Msg[]> =>
        (await Promise.all(ids.map(task))).filter((t) => t['status'] === 'completed');
      await waitFor(async () => (await completedNow()).length >= 19, 10_000, 'the refunds to admit nine more');
      const started = Date.now();
      await new Promise((r) => setTimeout(r, 500));
      const done = await Promise.all(ids.map(task));
      const completed = done.filter((t) => t['status'] === 'completed');
      const refill = Math.floor(((Date.now() - started + 1000) * 10_000) / 60_000 / 500);
      assert.ok(completed.length <= 19 + refill + 1, `the budget held the rest back, ${completed.length} ran`);
      assert.deepEqual(completed[0]!['usage'], { tokens: 500 });
      const waitingId = done.find((t) => t['status'] === 'pending')!['id'] as string;
      const e = (await api.get(`/api/tasks/${waitingId}/explain`)).body.data;
      assert.equal(e.code, 'BUDGET_EXHAUSTED', JSON.stringify(e));
      assert.ok(Date.parse(e.details.until) > Date.now(), 'it says until when');
      assert.match(e.message, /holds enough at \d{4}-/);
      const key = (await api.get('/api/flow/keys/llm')).body.data;
      assert.equal(key.buckets[0].name, 'tokens/minute');
      assert.equal(key.buckets[0].capacity, 10_000);
      // A run-time budget over the pattern lets the rest through.
      const put = await api.call('PUT', '/api/flow/budget/llm', { unit: 'tokens', per_day: 1_000_000 });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.deepEqual(put.body.data.overridden, ['budget']);
      await allDone(ids, 'the rest under the new budget', 20_000);
      assert.equal((await api.del('/api/flow/budget/llm')).status, 200);
      assert.equal((await api.del('/api/flow/budget/llm')).status, 404);
    });

    it('shares dispatches fairly between tenants: a flood does not starve the others', async () => {
      const flood = await bulk(
        Array.from({ length: 2000 }, (_, i) => ({
          title: `a${i}`,
          fairness_key: 'heavy',
          concurrency_key: `split:${i % 1000}`,
          payload: { ms: 5 },
        })),
      );
      const submittedAt = Date.now();
      const b = await bulk(
        Array.from({ length: 100 }, (_, i) => ({ title: `b${i}`, fairness_key: 'light-b', payload: { ms: 5 } })),
      );
      const c = await bulk(
        Array.from({ length: 100 }, (_, i) => ({ title: `c${i}`, fairness_key: 'light-c', payload: { ms: 5 } })),
      );
      const light = await allDone([...b, ...c], 'the light tenants', 60_000);
      const lightEnd = Math.max(...light.map((t) => Date.parse(t['completed_at'])));
      const heavy = await allDone(flood, 'the flood', 120_000);
      const heavyBefore = heavy.filter((t) => Date.parse(t['completed_at']) <= lightEnd).length;
      // Fair share: while b and c had work, each got about a third; the flood about a third (+ what it ran before).
      assert.ok(
        heavyBefore < 1000,
        `b and c finished long before the flood (${heavyBefore} of 2000 flood tasks ran first)`,
      );
      assert.ok(lightEnd - submittedAt < 20_000);
    });

    it('reports flow per key in /metrics and /metrics/prometheus', async () => {
      const json = (await api.get('/metrics')).body.data.current_metrics.flow;
      const keys = (json.keys as Msg[]).map((k) => k['key']);
      assert.ok(keys.includes('llm') && keys.includes('rated'), JSON.stringify(keys));
      assert.ok(json.used.llm.tokens >= 19 * 500, JSON.stringify(json.used));
      assert.ok(json.throttled_seconds.llm > 0, 'the budget throttled llm');
      const text = (await api.get('/metrics/prometheus')).body as string;
      const value = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
      assert.ok(value(/^hive_flow_used_total\{key="llm",unit="tokens"\} (\S+)$/m) >= 19 * 500, 'used tokens');
      assert.ok(value(/^hive_flow_throttled_seconds_total\{key="llm"\} (\S+)$/m) > 0, 'throttled time');
      assert.ok(value(/^hive_flow_bucket_level\{key="rated",bucket="rate"\} (\S+)$/m) >= 0, 'bucket level');
      assert.match(text, /^hive_flow_waiting\{key="[^"]+"\} \d+$/m);
    });

    it("refuses a remote agent's usage in an unknown unit (Rejected, nothing stored) and stores a good one", async () => {
      const agents = new (hiveProto().AgentServiceClient)(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
      const stream = (agents as unknown as { Connect: () => grpc.ClientDuplexStream<Msg, Msg> }).Connect();
      const got: Msg[] = [];
      stream.on('data', (m: Msg) => got.push(m));
      stream.on('error', () => undefined);
      try {
        stream.write({ register: { name: 'usage-raw', capabilities: [{ name: 'raw-usage', proficiency: 1 }] } });
        const [id] = await bulk([{ title: 'raw', required_capabilities: ['raw-usage'], cost: { tokens: 5 } }]);
        await waitFor(() => got.some((m) => m['assigned'] !== undefined), 10_000, 'the task to reach the raw agent');
        stream.write({ result: { task_id: id, success: true, output_json: '{}', usage: { dollars: 1 } } });
        const rejected = await waitFor(
          () => got.find((m) => m['rejected'] !== undefined)?.['rejected'],
          10_000,
          'Rejected',
        );
        assert.equal(rejected.code, 'VALIDATION_FAILED');
        assert.match(rejected.message, /usage\.dollars: unknown unit/);
        const still = await task(id!);
        assert.ok(['assigned', 'running'].includes(still['status']), 'the bad result ended nothing');
        assert.equal(still['usage'], null, 'and stored no usage');
        stream.write({ result: { task_id: id, success: true, output_json: '{}', usage: { tokens: 3 } } });
        const [done] = await allDone([id!], 'the good result');
        assert.deepEqual(done!['usage'], { tokens: 3 });
      } finally {
        stream.cancel();
        agents.close();
      }
    });

    it('carries flow fields over gRPC and refuses bad input naming the field, storing nothing', async () => {
      const sdk = new HiveClient(`127.0.0.1:${grpcPort}`);
      try {
        const t = await sdk.submitTask({
          title: 'g',
          concurrency_keys: ['k:g'],
          fairness_key: 't1',
          cost: { tokens: 3 },
        });
        const got = await sdk.getTask(String(t.task['id']));
        assert.deepEqual(got.concurrency_keys, ['k:g']);
        assert.equal(got.fairness_key, 't1');
        assert.deepEqual(got.cost, { tokens: 3 });
        await assert.rejects(sdk.submitTask({ title: 'g', cost: { dollars: 1 } }), /cost\.dollars: unknown unit/);
      } finally {
        sdk.close();
      }
      const before = (await api.get('/api/tasks?limit=1')).body.data.total;
      const bad: Array<[Msg, string]> = [
        [{ title: 'x', cost: { dollars: 1 } }, 'cost.dollars'],
        [{ title: 'x', cost: { tokens: -1 } }, 'cost.tokens'],
        [{ title: 'x', concurrency_key: 'has space' }, 'concurrency_key'],
        [{ title: 'x', concurrency_key: Array.from({ length: 9 }, (_, i) => `k${i}`) }, 'concurrency_key'],
        [{ title: 'x', fairness_key: 'a*' }, 'fairness_key'],
      ];
      for (const [body, field] of bad) {
        const r = await api.post('/api/tasks', body);
        assert.equal(r.status, 400, JSON.stringify(r.body));
        assert.equal(r.body.error.details.field, field);
      }
      assert.equal((await api.get('/api/tasks?limit=1')).body.data.total, before, 'nothing stored');
      const zero = await api.call('PUT', '/api/flow/concurrency/k:z', { limit: 0 });
      assert.equal(zero.status, 400);
      assert.equal(zero.body.error.details.field, 'limit');
      assert.equal((await api.call('PUT', '/api/flow/speed/k:z', { limit: 1 })).status, 404);
      const [id] = await bulk([{ title: 'u' }]);
      await allDone([id!], 'the usage target');
      const agent = (await api.get('/api/agents')).body.data.agents[0].id as string;
      const usage = await api.post(`/api/tasks/${id}/usage`, { agent_id: agent, usage: { tokens: 1 } });
      assert.equal(usage.status, 400, JSON.stringify(usage.body));
      assert.equal(usage.body.error.details.field, 'agent_id');
      const unit = await api.post(`/api/tasks/${id}/usage`, { agent_id: agent, usage: { dollars: 1 } });
      assert.equal(unit.body.error.details.field, 'usage.dollars');
    });
  });
}

flowSuite('sqlite');
flowSuite('postgres');
