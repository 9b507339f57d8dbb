/**
 * Workflows over gRPC with the TypeScript SDK's remote agent: a sleep with its
 * checkpoint, a signal by SignalTask, children spawned on the stream and
 * waited for, 1,000 progress chunks reaching a /ws observer and a WatchTasks
 * watcher in order (latency measured), and bad waits and progress Rejected.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HiveClient, runAgent } from '../../src/grpc/client/index.js';
import { hiveProto } from '../../src/grpc/proto.js';
import { hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { client, type Client } from '../helpers/http.js';
import { observer } from '../helpers/ws.js';
import { waitFor } from '../helpers/wait-for.js';

type Msg = Record<string, any>;

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

describe('workflows over gRPC (SDK remote agent)', function () {
  this.timeout(90_000);
  let tmp: string;
  let hub: RunningHub;
  let api: Client;
  let address: string;
  let hive: HiveClient;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-wf-grpc-'));
    hub = await startHub(
      [],
      hubEnv({ HIVE_DATABASE_DATA_DIR: tmp, HIVE_SERVER_HOST: '127.0.0.1', HIVE_AGENTS_DEFAULT_POOL_SIZE: '0' }),
    );
    api = client(hub.port);
    address = `127.0.0.1:${/"grpc_port":(\d+)/.exec(hub.output())?.[1]}`;
    hive = new HiveClient(address);
  });

  after(async () => {
    hive?.close();
    if (hub !== undefined) assert.equal(await hub.stop(), 0);
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  const done = async (id: string): Promise<Msg> => {
    let t: Msg = {};
    await waitFor(
      async () => ['completed', 'failed', 'dead'].includes((t = await hive.getTask(id))['status'] as string),
      30_000,
      `task ${id}`,
    );
    return t;
  };

  it('a remote agent sleeps with a checkpoint, waits for a signal, and fans out to children it spawns', async () => {
    const agent = runAgent(
      async (task, ctx) => {
        const p = task.payload as Msg;
        if (p['mode'] === 'child') return { i: p['i'] };
        if (task.resume === null) {
          if (p['mode'] === 'sleep') return ctx.sleep(300, { checkpoint: { n: 1 } });
          if (p['mode'] === 'signal') return ctx.waitForSignal('go', { checkpoint: { n: 2 } });
          const kids = await ctx.spawn(
            [0, 1, 2].map((i) => ({
              title: `kid ${i}`,
              payload: { mode: 'child', i },
              required_capabilities: [{ name: 'wf', min_proficiency: 0 }],
            })),
          );
          assert.equal(kids.length, 3);
          return ctx.waitForChildren('all', { checkpoint: { kids: kids.map((k) => k['id']) } });
        }
        return { resume: task.resume, checkpoint: task.checkpoint, parent: task.parent_id };
      },
      { address, name: 'wf-agent', capabilities: [{ name: 'wf', proficiency: 1 }], maxConcurrency: 8 },
    );
    await agent.registered;
    const submit = async (mode: string): Promise<string> =>
      String(
        (
          await hive.submitTask({
            title: mode,
            payload: { mode },
            required_capabilities: [{ name: 'wf', min_proficiency: 0 }],
          })
        ).task['id'],
      );
    try {
      const sleeper = await done(await submit('sleep'));
      const r = JSON.parse(sleeper['result_json']);
      assert.deepEqual(r.checkpoint, { n: 1 });
      assert.equal(r.resume.reason, 'timer');

      const sid = await submit('signal');
      await waitFor(async () => (await hive.getTask(sid))['status'] === 'waiting', 10_000, 'waiting');
      const signalled = await hive.signalTask(sid, 'go', { by: 'grpc' });
      assert.equal(signalled['id'], sid);
      const s = JSON.parse((await done(sid))['result_json']);
      assert.deepEqual(s.resume.signal.payload, { by: 'grpc' });
      await assert.rejects(
        hive.signalTask(sid, 'go'),
        (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION,
      );

      const parent = await done(await submit('fanout'));
      const f = JSON.parse(parent['result_json']);
      assert.deepEqual(
        f.resume.children.map((c: Msg) => c.result.i),
        [0, 1, 2],
      );
      const tree = (await api.get(`/api/tasks/${String(parent['id'])}/tree`)).body.data.tree;
      assert.equal(tree.children.length, 3);
    } finally {
      await agent.stop();
    }
  });

  it('1,000 progress chunks from a remote agent reach /ws and WatchTasks in order (latency measured)', async () => {
    const obs = await observer(hub.port, ['tasks']);
    const watched: Msg[] = [];
    const received: number[] = [];
    const stopWatch = hive.watchTasks((e) => watched.push(e), { types: ['task.progress'] });
    obs.ws.on('message', () => received.push(Date.now()));
    const agent = runAgent(
      async (_task, ctx) => {
        for (let i = 0; i < 1000; i++) {
          ctx.progress({ percent: (i + 1) / 10, chunk: `${i}:${Date.now()}` });
          if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5));
        }
        return { chunks: 1000 };
      },
      { address, name: 'streamer', capabilities: [{ name: 'stream', proficiency: 1 }], maxConcurrency: 1 },
    );
    await agent.registered;
    try {
      const t = await hive.submitTask({
        title: 'stream',
        required_capabilities: [{ name: 'stream', min_proficiency: 0 }],
      });
      const id = String(t.task['id']);
      await waitFor(
        () => obs.events.filter((e) => e.type === 'task.progress' && e.data.task_id === id).length === 1000,
        20_000,
        '1,000 chunks on /ws',
      );
      const latencies: number[] = [];
      const chunks = obs.events
        .map((e, i) => ({ e, at: received[i] ?? NaN }))
        .filter(({ e }) => e.type === 'task.progress' && e.data.task_id === id);
      chunks.forEach(({ e, at }, i) => {
        const [n, sent] = String(e.data.chunk).split(':');
        assert.equal(Number(n), i, 'in order');
        latencies.push(at - Number(sent));
      });
      const p99 = percentile(latencies, 99);
      console.log(`      progress chunk latency agent -> /ws: p50 ${percentile(latencies, 50)} ms, p99 ${p99} ms`);
      assert.ok(Number.isFinite(p99));
      await waitFor(() => watched.filter((w) => w['task']['id'] === id).length === 1000, 10_000, 'WatchTasks');
      assert.deepEqual(
        watched.filter((w) => w['task']['id'] === id).map((w) => Number(String(w['progress']['chunk']).split(':')[0])),
        Array.from({ length: 1000 }, (_, i) => i),
      );
      await done(id);
    } finally {
      stopWatch();
      obs.ws.close();
      await agent.stop();
    }
  });

  it('refuses a bad wait or bad progress with Rejected and keeps the task', async () => {
    const raw = new (hiveProto().AgentServiceClient)(address, grpc.credentials.createInsecure());
    const stream = (raw as unknown as { Connect: () => grpc.ClientDuplexStream<Msg, Msg> }).Connect();
    const got: Msg[] = [];
    stream.on('data', (m: Msg) => got.push(m));
    stream.on('error', () => undefined);
    stream.write({ register: { name: 'raw-wf', capabilities: [{ name: 'raw', proficiency: 1 }], max_concurrency: 1 } });
    await waitFor(() => got.some((m) => m['registered']), 5000, 'registered');
    const t = await hive.submitTask({ title: 'raw', required_capabilities: [{ name: 'raw', min_proficiency: 0 }] });
    const id = String(t.task['id']);
    await waitFor(() => got.some((m) => m['assigned']), 5000, 'assigned');
    stream.write({ progress: { task_id: id, percent: 250 } });
    stream.write({ result: { task_id: id, wait: { signal: 'bad name!' } } });
    await waitFor(() => got.filter((m) => m['rejected']).length >= 2, 5000, 'two refusals');
    const refusals = got.filter((m) => m['rejected']).map((m) => m['rejected']);
    assert.ok(refusals.every((r: Msg) => r['code'] === 'VALIDATION_FAILED' && r['task_id'] === id));
    assert.ok(['assigned', 'running'].includes((await hive.getTask(id))['status'] as string), 'nothing changed');
    stream.write({ result: { task_id: id, wait: { sleep_ms: 100 }, checkpoint_json: '{"ok":true}' } });
    await waitFor(async () => (await hive.getTask(id))['checkpoint_json'] === '{"ok":true}', 5000, 'stored waiting');
    stream.end();
    raw.close();
  });
});
