/** The neural processor through the real CLI: the guide's commands, bad input, cache, restart under load, inferred capabilities, broken models. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hubEnv, runCli, startHub, type RunningHub } from '../helpers/cli.js';
import { client, type Client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait-for.js';

describe('neural processor', function () {
  this.timeout(60_000);
  let tmp: string;
  let hub: RunningHub;
  let api: Client;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-neural-'));
    hub = await startHub(
      [],
      hubEnv({ HIVE_DATABASE_DATA_DIR: tmp, HIVE_SERVER_HOST: '127.0.0.1', HIVE_AGENTS_DEFAULT_POOL_SIZE: '2' }),
    );
    api = client(hub.port);
  });

  after(async () => {
    if (hub !== undefined) assert.equal(await hub.stop(), 0);
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  const analyses = async (): Promise<number> =>
    (await api.get('/api/modules/neural/status')).body.data.inferences.analyses;

  it("answers the guide's analyze command and status with real inference on CPU", async () => {
    const r = await api.post('/api/neural/analyze', { text: 'test input' });
    assert.equal(r.status, 200);
    const d = r.body.data;
    assert.equal(d.capabilities.length, 7);
    assert.ok(d.capabilities.every((c: any) => c.probability >= 0 && c.probability <= 1));
    assert.ok(['low', 'medium', 'high', 'critical'].includes(d.priority_hint));
    assert.deepEqual(d.keywords, ['input', 'test']);
    assert.equal(d.tokens, 2);
    assert.deepEqual(d.model, { name: 'task-text', version: 1 });
    const s = (await api.get('/api/modules/neural/status')).body.data;
    assert.equal(s.backend, 'cpu');
    assert.deepEqual(
      s.models.map((m: any) => [m.kind, m.name, m.version]),
      [
        ['text_classifier', 'task-text', 1],
        ['agent_fit', 'agent-fit', 1],
      ],
    );
    assert.ok(s.latency_ms.p50 > 0);
    assert.equal(s.module.status, 'running');
    const metrics = (await api.get('/metrics')).body.data.current_metrics.neural;
    assert.equal(metrics.available, true);
    assert.equal(metrics.backend, 'cpu');
  });

  it('refuses bad input with the field named, and analyses nothing', async () => {
    const before = await analyses();
    const cases: Array<[string, unknown, string]> = [
      ['/api/neural/analyze', {}, 'text'],
      ['/api/neural/analyze', { text: '' }, 'text'],
      ['/api/neural/analyze', { text: 42 }, 'text'],
      ['/api/neural/analyze', { text: 'x'.repeat(10_001) }, 'text'],
      ['/api/neural/analyze', { text: 'ok', extra: 1 }, 'extra'],
      ['/api/neural/analyze', [1, 2], '(body)'],
      ['/api/neural/analyze/batch', { texts: [] }, 'texts'],
      ['/api/neural/analyze/batch', { texts: ['fine', 7] }, 'texts[1]'],
      ['/api/neural/analyze/batch', { texts: Array.from({ length: 1001 }, () => 'x') }, 'texts'],
    ];
    for (const [route, body, field] of cases) {
      const r = await api.post(route, body);
      assert.equal(r.status, 400, `${route} ${JSON.stringify(body).slice(0, 60)}`);
      assert.equal(r.body.error.code, 'VALIDATION_FAILED');
      assert.equal(r.body.error.details.field, field);
    }
    assert.equal(
      (await api.post('/api/neural/analyze', '{"text": "broken', { 'content-type': 'application/json' })).status,
      400,
    );
    assert.equal(await analyses(), before);
  });

  it('analyses a batch, caches repeated texts, and clear-cache empties the cache', async () => {
    const r = await api.post('/api/neural/analyze/batch', {
      texts: ['Fix the failing build on main', 'Translate the menu into French', 'Fix the failing build on main'],
    });
    assert.equal(r.status, 200);
    const [code, translation, again] = r.body.data.results;
    assert.equal(code.capabilities[0].name, 'code');
    assert.equal(translation.capabilities[0].name, 'translation');
    assert.equal(
      (await api.post('/api/neural/analyze', { text: 'Translate the menu into French' })).body.data.cached,
      true,
    );
    assert.deepEqual(again.capabilities, code.capabilities);
    assert.ok((await api.get('/api/modules/neural/status')).body.data.cache.size > 0);
    const cleared = await api.post('/api/modules/neural/clear-cache');
    assert.equal(cleared.status, 200);
    assert.ok(cleared.body.data.cleared >= 2);
    const s = (await api.get('/api/modules/neural/status')).body.data;
    assert.equal(s.cache.size, 0);
    assert.equal(
      (await api.post('/api/neural/analyze', { text: 'Translate the menu into French' })).body.data.cached,
      false,
    );
  });

  it('drops no request when the neural processor restarts under load', async () => {
    const texts = Array.from({ length: 400 }, (_, i) => `Analyse the sales figures of region ${i} and write a summary`);
    const inFlight = texts.map((text) => api.post('/api/neural/analyze', { text }));
    const restart = api.post('/api/modules/neural/restart');
    const more = texts.slice(0, 100).map((text) => api.post('/api/neural/analyze', { text: `${text} again` }));
    const results = await Promise.all([...inFlight, ...more]);
    assert.deepEqual(
      [...new Set(results.map((r) => r.status))],
      [200],
      JSON.stringify(results.find((r) => r.status !== 200)?.body),
    );
    const restarted = await restart;
    assert.equal(restarted.status, 200);
    assert.equal(restarted.body.data.action, 'restarted');
    assert.ok(restarted.body.data.restarts >= 1);
  });

  it('records inferred capabilities for a task submitted without required ones (and none when it has some)', async () => {
    const open = await api.post('/api/tasks', { title: 'Translate the employee handbook into German' });
    assert.equal(open.status, 201);
    const inferred = open.body.data.inferred_capabilities;
    assert.equal(inferred[0].name, 'translation');
    assert.ok(inferred[0].probability >= 0.2);
    assert.deepEqual(open.body.data.required_capabilities, []);
    const stored = (await api.get(`/api/tasks/${open.body.data.id}`)).body.data;
    assert.deepEqual(stored.inferred_capabilities, inferred);
    await waitFor(
      async () => (await api.get(`/api/tasks/${open.body.data.id}`)).body.data.status === 'completed',
      10_000,
      'the task to run on a pool agent (inferred capabilities are not requirements)',
    );
    const declared = await api.post('/api/tasks', {
      title: 'Translate the menu',
      required_capabilities: [{ name: 'general', min_proficiency: 0 }],
    });
    assert.equal(declared.body.data.inferred_capabilities, null);
    const bulk = await api.post('/api/tasks/bulk', {
      tasks: [{ title: 'Rotate the TLS certificates on the load balancers' }],
    });
    assert.equal(bulk.body.data.tasks[0].inferred_capabilities[0].name, 'operations');
  });

  it('learns from outcomes: retrain builds a new fit model version from what the agents did', async () => {
    const before = (await api.get('/api/modules/neural/status')).body.data.fit_training;
    const r = await api.post('/api/tasks/bulk', {
      tasks: Array.from({ length: 50 }, (_, i) => ({ title: `echo ${i}` })),
    });
    const ids: string[] = r.body.data.tasks.map((t: any) => t.id);
    await waitFor(
      async () =>
        (await Promise.all(ids.slice(-5).map((id) => api.get(`/api/tasks/${id}`)))).every(
          (t) => t.body.data.status === 'completed',
        ),
      20_000,
      'the tasks to complete',
    );
    await waitFor(
      async () => (await api.get('/api/modules/neural/status')).body.data.fit_training.samples > before.samples,
      10_000,
      'outcomes to be recorded',
    );
    const retrained = await api.post('/api/modules/neural/retrain');
    assert.equal(retrained.status, 200);
    assert.equal(retrained.body.data.version, before.version + 1);
    assert.equal((await api.get('/api/modules/neural/status')).body.data.fit_training.version, before.version + 1);
  });
});

describe('neural processor: broken models', function () {
  this.timeout(30_000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-neural-broken-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('a broken model file stops the start with one line naming it, and --check says why', async () => {
    const model = path.join(tmp, 'broken.onnx');
    writeFileSync(model, 'not an onnx model at all');
    const config = path.join(tmp, 'hub.toml');
    writeFileSync(
      config,
      `[neural.models.mine]\npath = "${model}"\nkind = "agent_fit"\ninputs = []\noutputs = []\nlabels = []\n`,
    );
    const env = hubEnv({ HIVE_DATABASE_DATA_DIR: path.join(tmp, 'data') });
    const check = await runCli(['--config', config, '--check'], env);
    assert.equal(check.code, 1);
    assert.match(check.stderr, /^FAILED: neural model .*broken\.onnx: (is not an ONNX model|ONNX Runtime refused it)/);
    const start = await runCli(['--config', config], env);
    assert.equal(start.code, 1);
    assert.equal(start.stderr.trim().split('\n').length, 1, start.stderr);
    assert.match(start.stderr, /neural model .*broken\.onnx/);
    assert.match(start.stdout, /"level":"fatal".*"code":"MODEL_INVALID"/);
  });

  it('[neural] enabled = false: analyze answers 501 NOT_IMPLEMENTED and tasks are stored without inference', async () => {
    const hub = await startHub(
      [],
      hubEnv({
        HIVE_DATABASE_DATA_DIR: path.join(tmp, 'off'),
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_NEURAL_ENABLED: 'false',
      }),
    );
    const api = client(hub.port);
    const r = await api.post('/api/neural/analyze', { text: 'hello' });
    assert.equal(r.status, 501);
    assert.equal(r.body.error.code, 'NOT_IMPLEMENTED');
    assert.equal((await api.get('/api/modules/neural/status')).body.data.enabled, false);
    assert.equal((await api.post('/api/tasks', { title: 'Translate this' })).body.data.inferred_capabilities, null);
    assert.equal(await hub.stop(), 0);
  });
});
