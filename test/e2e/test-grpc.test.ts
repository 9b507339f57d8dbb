/** The gRPC API against the real CLI: HiveService, AgentService (credits, rejections, grace, resume), health. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { hiveProto } from '../../src/grpc/proto.js';
import { hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { client, type Client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait-for.js';

type Msg = Record<string, any>;

function call<T = Msg>(c: grpc.Client, method: string, req: Msg): Promise<T> {
  return new Promise((resolve, reject) =>
    (c as any)[method](req, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res))),
  );
}

/** A remote agent written against the raw stream (what any language's stubs give). */
class TestAgent {
  readonly received: Msg[] = [];
  readonly tasks: Msg[] = [];
  inFlight = 0;
  maxInFlight = 0;
  stream: grpc.ClientDuplexStream<Msg, Msg>;
  registered: Promise<Msg>;

  constructor(
    agentClient: grpc.Client,
    register: Msg,
    private readonly autoReply = true,
  ) {
    this.stream = (agentClient as any).Connect();
    let ok!: (m: Msg) => void;
    this.registered = new Promise((r) => (ok = r));
    this.stream.on('data', (m: Msg) => {
      this.received.push(m);
      if (m['registered']) ok(m['registered']);
      if (m['assigned']) {
        for (const t of m['assigned'].tasks) {
          this.tasks.push(t);
          this.inFlight++;
          this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
          if (this.autoReply) setTimeout(() => this.reply(t.id, true, t.payload_json), 2);
        }
      }
    });
    this.stream.on('error', () => undefined);
    this.stream.write({ register });
  }

  reply(taskId: string, success: boolean, output = 'null', error?: Msg): void {
    this.inFlight--;
    this.stream.write({ result: { task_id: taskId, success, output_json: output, ...(error ? { error } : {}) } });
  }

  rejected(): Msg[] {
    return this.received.filter((m) => m['rejected']).map((m) => m['rejected']);
  }
}

describe('gRPC API', function () {
  this.timeout(60_000);
  let tmp: string;
  let hub: RunningHub;
  let api: Client;
  let hiveClient: grpc.Client;
  let agentClient: grpc.Client;
  let grpcAddress: string;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-grpc-'));
    hub = await startHub(
      [],
      hubEnv({
        HIVE_DATABASE_DATA_DIR: tmp,
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '0',
        HIVE_GRPC_AGENT_GRACE_MS: '800',
      }),
    );
    api = client(hub.port);
    const m = /"grpc_port":(\d+)/.exec(hub.output());
    assert.ok(m, 'the hub logs its gRPC port');
    grpcAddress = `127.0.0.1:${m[1]}`;
    const proto = hiveProto();
    hiveClient = new proto.HiveServiceClient(grpcAddress, grpc.credentials.createInsecure());
    agentClient = new proto.AgentServiceClient(grpcAddress, grpc.credentials.createInsecure());
  });

  after(async () => {
    hiveClient?.close();
    agentClient?.close();
    if (hub !== undefined) assert.equal(await hub.stop(), 0);
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it('answers grpc.health.v1 Check with SERVING', async () => {
    const def = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String });
    const Health = (grpc.loadPackageDefinition(def) as any).grpc.health.v1.Health as grpc.ServiceClientConstructor;
    const h = new Health(grpcAddress, grpc.credentials.createInsecure());
    const r = await call(h, 'Check', { service: 'hive.v1.HiveService' });
    assert.equal(r['status'], 'SERVING');
    h.close();
  });

  it('submits, reads, lists and cancels tasks; maps errors to gRPC status with the code in trailers', async () => {
    const submitted = await call(hiveClient, 'SubmitTask', {
      task: {
        title: 'from grpc',
        payload_json: '{"n":1}',
        idempotency_key: 'grpc-1',
        run_at: new Date(Date.now() + 3_600_000).toISOString(),
      },
    });
    assert.equal(submitted['created'], true);
    const again = await call(hiveClient, 'SubmitTask', { task: { title: 'from grpc', idempotency_key: 'grpc-1' } });
    assert.equal(again['created'], false);
    assert.equal(again['task'].id, submitted['task'].id);
    const got = await call(hiveClient, 'GetTask', { id: submitted['task'].id });
    assert.equal(JSON.parse(got['payload_json']).n, 1);
    const list = await call(hiveClient, 'ListTasks', { status: 'pending' });
    assert.ok(list['tasks'].some((t: Msg) => t.id === submitted['task'].id));
    const cancelled = await call(hiveClient, 'CancelTask', { id: submitted['task'].id, reason: 'test' });
    assert.equal(cancelled['status'], 'cancelled');
    const cases: Array<[string, Msg, number, string]> = [
      ['SubmitTask', { task: { title: '' } }, grpc.status.INVALID_ARGUMENT, 'VALIDATION_FAILED'],
      ['SubmitTask', { task: { title: 'x', payload_json: '{' } }, grpc.status.INVALID_ARGUMENT, 'VALIDATION_FAILED'],
      ['SubmitTask', { task: { title: 'x', priority: 'urgent' } }, grpc.status.INVALID_ARGUMENT, 'VALIDATION_FAILED'],
      ['GetTask', { id: 'nope' }, grpc.status.INVALID_ARGUMENT, 'VALIDATION_FAILED'],
      ['GetTask', { id: '2b1e7c4e-3f7e-4c8e-9d43-000000000000' }, grpc.status.NOT_FOUND, 'TASK_NOT_FOUND'],
      ['CancelTask', { id: submitted['task'].id }, grpc.status.FAILED_PRECONDITION, 'INVALID_STATE'],
      ['ListTasks', { status: 'weird' }, grpc.status.INVALID_ARGUMENT, 'VALIDATION_FAILED'],
      ['AnalyzeText', { text: '' }, grpc.status.INVALID_ARGUMENT, 'VALIDATION_FAILED'],
    ];
    for (const [method, req, status, code] of cases) {
      const err = await call(hiveClient, method, req).then(
        (): grpc.ServiceError | undefined => undefined,
        (e: grpc.ServiceError) => e,
      );
      assert.ok(err, `${method} ${JSON.stringify(req)} should fail`);
      assert.equal(err.code, status, `${method}: ${err.details}`);
      assert.deepEqual(err.metadata.get('hive-error-code'), [code], method);
    }
    const status = await call(hiveClient, 'GetHiveStatus', {});
    assert.equal(typeof status['pending_tasks'], 'number');
    const analysed = await call(hiveClient, 'AnalyzeText', { text: 'Translate the safety manual into German' });
    assert.equal(analysed['capabilities'][0].name, 'translation');
    assert.equal(analysed['model_name'], 'task-text');
    assert.ok(analysed['tokens'] > 0);
  });

  it('honours deadlines: a call within its deadline answers; WatchTasks ends with DEADLINE_EXCEEDED at its deadline', async () => {
    const ok = await new Promise<Msg>((resolve, reject) =>
      (hiveClient as any).GetHiveStatus(
        {},
        { deadline: new Date(Date.now() + 5000) },
        (err: grpc.ServiceError | null, res: Msg) => (err ? reject(err) : resolve(res)),
      ),
    );
    assert.equal(typeof ok['pending_tasks'], 'number');
    const started = Date.now();
    const watch: grpc.ClientReadableStream<Msg> = (hiveClient as any).WatchTasks(
      {},
      { deadline: new Date(Date.now() + 300) },
    );
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      watch.on('data', () => undefined);
      watch.on('error', resolve);
    });
    assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 3000, 'the stream ends at its deadline');
  });

  it('keeps a connected remote agent through restarts of agent_management and of the engine module', async () => {
    const agent = new TestAgent(agentClient, { name: 'survivor', capabilities: [{ name: 'survive', proficiency: 1 }] });
    const reg = await agent.registered;
    for (const module of ['agent_management', 'engine']) {
      const r = await api.post(`/api/modules/${module}/restart`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const t = await call(hiveClient, 'SubmitTask', {
        task: { title: `after ${module}`, required_capabilities: [{ name: 'survive', min_proficiency: 0 }] },
      });
      await waitFor(
        async () => (await api.get(`/api/tasks/${t['task'].id}`)).body.data.status === 'completed',
        10_000,
        `the task after the ${module} restart to complete on the remote agent`,
      );
      assert.equal((await api.get(`/api/tasks/${t['task'].id}`)).body.data.assigned_agent, reg['agent_id']);
    }
    agent.stream.end();
  });

  it('runs tasks on a remote agent, never more in flight than its max_concurrency, and shows it like a local agent', async () => {
    const agent = new TestAgent(agentClient, {
      name: 'py-like',
      capabilities: [{ name: 'remote', proficiency: 1 }],
      max_concurrency: 2,
      labels: { lang: 'test' },
    });
    const reg = await agent.registered;
    assert.ok(reg['agent_id']);
    const watch = (hiveClient as any).WatchTasks({ types: ['task.completed'] }) as grpc.ClientReadableStream<Msg>;
    const seen: string[] = [];
    watch.on('data', (e: Msg) => seen.push(e['task'].id));
    watch.on('error', () => undefined);
    const batch = await call(hiveClient, 'SubmitTasks', {
      tasks: Array.from({ length: 200 }, (_, i) => ({
        title: `r${i}`,
        required_capabilities: [{ name: 'remote', min_proficiency: 0 }],
        payload_json: String(i),
      })),
    });
    assert.equal(batch['created'], 200);
    await waitFor(
      async () => (await api.get('/api/tasks?status=completed&capability=remote&limit=1')).body.data.total === 200,
      30_000,
      '200 remote completions',
    );
    assert.ok(agent.maxInFlight <= 2, `at most 2 in flight, saw ${agent.maxInFlight}`);
    assert.equal(agent.tasks.length, 200);
    await waitFor(() => seen.length >= 200, 5000, 'WatchTasks to see the completions');
    const t = (await api.get(`/api/tasks/${batch['tasks'][7].id}`)).body.data;
    assert.equal(t.result, 7);
    const listed = (await api.get('/api/agents?kind=remote')).body.data.agents;
    assert.ok(listed.some((a: Msg) => a.id === reg['agent_id'] && a.kind === 'remote'));
    const viaGrpc = await call(hiveClient, 'ListAgents', { kind: 'remote' });
    const me = viaGrpc['agents'].find((a: Msg) => a.id === reg['agent_id']);
    assert.ok(me.connected_since !== '');
    assert.deepEqual(me.labels, { lang: 'test' });
    watch.cancel();
    agent.stream.end();
  });

  it("rejects a second Register, a result for a task that is not the agent's, and bad output, changing nothing", async () => {
    const agent = new TestAgent(
      agentClient,
      { name: 'strict', capabilities: [{ name: 'strict', proficiency: 1 }], max_concurrency: 1 },
      false,
    );
    await agent.registered;
    agent.stream.write({ register: { name: 'again' } });
    agent.stream.write({
      result: { task_id: '2b1e7c4e-3f7e-4c8e-9d43-000000000000', success: true, output_json: '1' },
    });
    const t = await call(hiveClient, 'SubmitTask', {
      task: { title: 'strict', required_capabilities: [{ name: 'strict', min_proficiency: 0 }] },
    });
    await waitFor(() => agent.tasks.length === 1, 5000, 'the assignment');
    agent.stream.write({ result: { task_id: t['task'].id, success: true, output_json: '{broken' } });
    await waitFor(() => agent.rejected().length === 3, 5000, 'three rejections');
    assert.deepEqual(
      agent.rejected().map((r) => r.status),
      [9, 9, 3],
    );
    assert.equal((await api.get(`/api/tasks/${t['task'].id}`)).body.data.status !== 'completed', true);
    agent.reply(t['task'].id, true, '"fine"');
    await waitFor(
      async () => (await api.get(`/api/tasks/${t['task'].id}`)).body.data.status === 'completed',
      5000,
      'the good result',
    );
    agent.stream.end();
  });

  it("keeps a disconnected agent's tasks for the grace and resumes them with its token; after the grace they are requeued", async () => {
    const first = new TestAgent(
      agentClient,
      { name: 'flaky-link', capabilities: [{ name: 'link', proficiency: 1 }], max_concurrency: 1 },
      false,
    );
    const reg = await first.registered;
    const t = await call(hiveClient, 'SubmitTask', {
      task: {
        title: 'survives a reconnect',
        required_capabilities: [{ name: 'link', min_proficiency: 0 }],
        payload_json: '"a"',
      },
    });
    await waitFor(() => first.tasks.length === 1, 5000, 'the assignment');
    first.stream.cancel();
    const second = new TestAgent(agentClient, { name: 'flaky-link', resume_token: reg['resume_token'] }, false);
    const again = await second.registered;
    assert.equal(again['resumed'], true);
    assert.equal(again['agent_id'], reg['agent_id']);
    second.reply(t['task'].id, true, '"kept"');
    await waitFor(
      async () => (await api.get(`/api/tasks/${t['task'].id}`)).body.data.status === 'completed',
      5000,
      'the resumed result',
    );
    assert.equal((await api.get(`/api/tasks/${t['task'].id}`)).body.data.result, 'kept');

    const t2 = await call(hiveClient, 'SubmitTask', {
      task: { title: 'outlives its agent', required_capabilities: [{ name: 'link', min_proficiency: 0 }] },
    });
    await waitFor(() => second.tasks.length === 1, 5000, 'the second assignment');
    second.stream.cancel();
    await waitFor(
      async () => (await api.get(`/api/tasks/${t2['task'].id}`)).body.data.status === 'pending',
      10_000,
      'the task to be requeued after the grace',
    );
    const agentNow = (await api.get(`/api/agents/${reg['agent_id']}`)).body.data;
    assert.equal(agentNow.state, 'offline');
    const other = new TestAgent(agentClient, {
      name: 'rescuer',
      capabilities: [{ name: 'link', proficiency: 1 }],
      max_concurrency: 1,
    });
    await other.registered;
    await waitFor(
      async () => (await api.get(`/api/tasks/${t2['task'].id}`)).body.data.status === 'completed',
      10_000,
      'another agent to complete it',
    );
    other.stream.end();
    const stale = new TestAgent(agentClient, { name: 'late', resume_token: reg['resume_token'] }, false);
    await waitFor(() => stale.rejected().length === 1, 5000, 'an expired token to be refused');
    assert.equal(stale.rejected()[0]?.status, 5);
    stale.stream.end();
  });
});
