/** The neural pieces: features, batching, cache, training, ONNX export and model contracts, and the engine. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../../src/config/index.js';
import type { HubError } from '../../src/errors/index.js';
import { LruCache, MicroBatcher } from '../../src/neural/batcher.js';
import { CAPABILITY_LABELS, MODELS_DIR } from '../../src/neural/dataset.js';
import { NeuralEngine } from '../../src/neural/engine.js';
import { inferredFrom } from '../../src/neural/evaluate.js';
import { FIT_WIDTH, writeFitFeatures } from '../../src/neural/fit-features.js';
import { loadModel } from '../../src/neural/models.js';
import {
  agentFitOnnx,
  readClassifierWeights,
  readModelMeta,
  textClassifierOnnx,
} from '../../src/neural/onnx-export.js';
import {
  HASH_BUCKETS,
  MAX_FEATURES,
  featurizeBatch,
  packFeatures,
  textFeatures,
  tokenize,
} from '../../src/neural/text-features.js';
import { trainLogistic } from '../../src/neural/train.js';
import { memoryLogger } from '../helpers/logs.js';

const config = (env: Record<string, string> = {}) => loadConfig({ env: { HIVE_ENV: 'test', ...env } });

describe('neural: text features', () => {
  it('tokenizes, hashes into buckets 1..N-1 with unit-length weights, and is deterministic', () => {
    assert.deepEqual(tokenize("Fix the user's login-page bug NOW!"), [
      'fix',
      'the',
      'users',
      'login-page',
      'bug',
      'now',
    ]);
    const a = textFeatures('Translate the employee handbook into German');
    const b = textFeatures('Translate the employee handbook into German');
    assert.deepEqual([...a.ids], [...b.ids]);
    assert.ok([...a.ids].every((id) => id >= 1 && id < HASH_BUCKETS));
    const norm = Math.sqrt([...a.weights].reduce((s, w) => s + w * w, 0));
    assert.ok(Math.abs(norm - 1) < 1e-5, String(norm));
    assert.deepEqual(a.keywords.slice(0, 2), ['translate', 'employee']);
    assert.equal(a.tokens, 6);
    assert.ok(textFeatures('word '.repeat(5000)).ids.length <= MAX_FEATURES);
    assert.equal(textFeatures('').ids.length, 0);
  });

  it('computes exactly the features the models were trained on (recorded before the one-pass scanner)', () => {
    // test/fixtures/text-features.json: the featurizer's output before issue 19, for awkward texts too
    // (unicode, apostrophes, hyphens and underscores, stopwords only, past MAX_FEATURES, empty).
    const rows = JSON.parse(readFileSync(new URL('../fixtures/text-features.json', import.meta.url), 'utf8')) as Array<{
      text: string;
      tokens: string[];
      ids: number[];
      weights: number[];
      n_tokens: number;
      keywords: string[];
    }>;
    assert.ok(rows.length > 100);
    for (const r of rows) {
      const f = textFeatures(r.text);
      assert.deepEqual(tokenize(r.text), r.tokens, r.text);
      assert.deepEqual([...f.ids], r.ids, r.text);
      assert.ok(
        [...f.weights].every((w, i) => Math.abs(w - r.weights[i]!) < 2e-6),
        `weights of ${JSON.stringify(r.text)}`,
      );
      assert.equal(f.tokens, r.n_tokens, r.text);
      assert.deepEqual(f.keywords, r.keywords, r.text);
    }
  });

  it('featurizes a batch into the classifier inputs, row for row the same as one text at a time', () => {
    const texts = [
      'Translate the handbook',
      '',
      'Übersetze das Handbuch',
      'word '.repeat(500),
      'fix the login-page bug',
    ];
    const b = featurizeBatch(texts, true);
    const p = packFeatures(texts.map((t) => textFeatures(t)));
    assert.equal(b.width, p.width);
    assert.deepEqual([...b.ids], [...p.ids]);
    assert.deepEqual([...b.weights], [...p.weights]);
    assert.deepEqual(
      b.tokens,
      texts.map((t) => textFeatures(t).tokens),
    );
    assert.deepEqual(
      b.keywords,
      texts.map((t) => textFeatures(t).keywords),
    );
  });

  it('packs rows of different lengths, padding with bucket 0 and weight 0', () => {
    const p = packFeatures([textFeatures('one two three'), textFeatures('four')]);
    assert.equal(p.ids.length, 2 * p.width);
    const second = [...p.ids.slice(p.width)];
    assert.ok(second.filter((id) => id === 0).length >= p.width - textFeatures('four').ids.length);
    assert.equal(p.weights[p.width * 2 - 1], 0);
  });

  it('writes fit features in [0, 1] for required or inferred capabilities', () => {
    const agent = {
      capabilities: [{ name: 'code', proficiency: 0.8 }],
      stats: { tasks_completed: 9, tasks_failed: 1, success_rate: 0.9, average_duration_ms: 100 },
    };
    const out = new Float32Array(FIT_WIDTH);
    writeFitFeatures(
      agent,
      [
        { name: 'code', weight: 1 },
        { name: 'math', weight: 1 },
      ],
      { running: 1, capacity: 4 },
      out,
    );
    assert.deepEqual(
      [out[0], out[1], out[2], out[5]].map((x) => Math.round(x! * 100) / 100),
      [0.5, 0.4, 0.9, 0.25],
    );
    assert.ok([...out].every((x) => x >= 0 && x <= 1));
  });

  it('infers every capability at or above the threshold, else the most likely one if it reaches half of it', () => {
    const probs = [
      { name: 'a', probability: 0.7 },
      { name: 'b', probability: 0.3 },
      { name: 'c', probability: 0.05 },
    ];
    assert.deepEqual(
      inferredFrom(probs, 0.25).map((c) => c.name),
      ['a', 'b'],
    );
    assert.deepEqual(
      inferredFrom([{ name: 'x', probability: 0.15 }], 0.2).map((c) => c.name),
      ['x'],
    );
    assert.deepEqual(inferredFrom([{ name: 'x', probability: 0.05 }], 0.2), []);
  });
});

describe('neural: batching and cache', () => {
  it('runs the requests of one turn as one batch, splits at maxBatch, and fails every item of a failed batch', async () => {
    const sizes: number[] = [];
    const b = new MicroBatcher<number, number>((xs) => (sizes.push(xs.length), Promise.resolve(xs.map((x) => x * 2))), {
      maxBatch: 4,
      waitMs: 5,
    });
    const out = await Promise.all([1, 2, 3, 4, 5, 6].map((x) => b.submit(x)));
    assert.deepEqual(out, [2, 4, 6, 8, 10, 12]);
    assert.deepEqual(sizes, [4, 2]);
    const bad = new MicroBatcher<number, number>(() => Promise.reject(new Error('model broke')), {
      maxBatch: 8,
      waitMs: 1,
    });
    const results = await Promise.allSettled([bad.submit(1), bad.submit(2)]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
  });

  it('evicts the least recently used entry and counts hits and misses', () => {
    const c = new LruCache<number>(2);
    c.set('a', 1);
    c.set('b', 2);
    assert.equal(c.get('a'), 1);
    c.set('c', 3);
    assert.equal(c.get('b'), undefined, 'b was the least recently used');
    assert.deepEqual([c.hits, c.misses, c.size], [1, 1, 2]);
    assert.equal(c.clear(), 2);
    assert.equal(c.size, 0);
  });
});

describe('neural: training and ONNX export', () => {
  it('learns a logistic rule, and the exported ONNX model computes what the weights say', async () => {
    const n = 400;
    const x = new Float32Array(n * FIT_WIDTH);
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < FIT_WIDTH; k++) x[i * FIT_WIDTH + k] = ((i * 7 + k * 13) % 100) / 100;
      y[i] = x[i * FIT_WIDTH + 2]! > 0.5 ? 1 : 0; // success_rate decides
    }
    const w = trainLogistic(x, y, FIT_WIDTH, { iterations: 1500, lr: 2 });
    assert.ok(w.w[2]! > 2 * Math.abs(w.w[0]!), `success_rate should dominate: ${[...w.w].join(', ')}`);
    const bytes = agentFitOnnx(w, { kind: 'agent_fit', name: 't', version: 3 });
    assert.equal(readModelMeta(bytes)?.version, 3);
    const session = await ort.InferenceSession.create(bytes);
    const r = await session.run({ features: new ort.Tensor('float32', x.slice(0, 4 * FIT_WIDTH), [4, FIT_WIDTH]) });
    const got = r['p_success']!.data as Float32Array;
    for (let i = 0; i < 4; i++) {
      let z = w.b;
      for (let k = 0; k < FIT_WIDTH; k++) z += w.w[k]! * x[i * FIT_WIDTH + k]!;
      assert.ok(Math.abs(got[i]! - 1 / (1 + Math.exp(-z))) < 1e-5);
    }
    await session.release();
  });
});

describe('neural: model contracts', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'hub-models-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const rejects = async (spec: Parameters<typeof loadModel>[0], pattern: RegExp): Promise<void> => {
    await assert.rejects(loadModel(spec, ['cpu']), (e: HubError) => {
      assert.equal(e.code, 'MODEL_INVALID');
      assert.match(e.message, pattern);
      return true;
    });
  };

  it('loads the shipped models', async () => {
    for (const kind of ['text_classifier', 'agent_fit'] as const) {
      const m = await loadModel(
        { kind, path: path.join(MODELS_DIR, kind === 'agent_fit' ? 'agent-fit.onnx' : 'text-classifier.onnx') },
        ['cpu'],
      );
      assert.equal(m.kind, kind);
      await m.session.release();
    }
  });

  it('refuses a missing file, a file that is not ONNX, a model of the other kind, a wrong width and unknown tensor names, naming the file', async () => {
    await rejects({ kind: 'agent_fit', path: path.join(dir, 'nope.onnx') }, /nope\.onnx: cannot be read/);
    const garbage = path.join(dir, 'garbage.onnx');
    writeFileSync(garbage, 'this is not a model');
    await rejects(
      { kind: 'agent_fit', path: garbage },
      /garbage\.onnx: (is not an ONNX model|ONNX Runtime refused it)/,
    );
    await rejects(
      { kind: 'agent_fit', path: path.join(MODELS_DIR, 'text-classifier.onnx') },
      /is a text_classifier model, configured as agent_fit/,
    );
    const narrow = path.join(dir, 'narrow.onnx');
    writeFileSync(
      narrow,
      agentFitOnnx({ w: new Float32Array(5), b: 0 }, { kind: 'agent_fit', name: 'narrow', version: 1 }),
    );
    await rejects(
      { kind: 'agent_fit', path: narrow },
      /input "features" \(features\) is \[batch, 5\]; the contract needs \[batch, 6\]/,
    );
    await rejects(
      { kind: 'agent_fit', path: path.join(MODELS_DIR, 'agent-fit.onnx'), inputs: ['x'] },
      /has no input "x" \(for features\); its inputs are "features"/,
    );
    await rejects(
      { kind: 'text_classifier', path: path.join(MODELS_DIR, 'text-classifier.onnx'), labels: ['just-one'] },
      /output "capabilities" \(capabilities\) is \[batch, 7\]; the contract needs \[batch, 1\]/,
    );
  });
});

describe('neural: backend and user models', function () {
  this.timeout(30_000);
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'hub-user-models-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gpu_enabled without a CUDA provider runs on CPU with one warning saying why', async () => {
    const { log, records } = memoryLogger();
    const engine = await NeuralEngine.open({
      config: config({ HIVE_NEURAL_GPU_ENABLED: 'true' }),
      modelsDir: MODELS_DIR,
      log,
    });
    const status = engine.status();
    assert.equal(status['backend'], 'cpu');
    assert.match(String(status['backend_reason']), /CUDA/);
    const warnings = records.filter((r) => r['event'] === 'neural.cpu_fallback');
    assert.equal(warnings.length, 1);
    assert.match(String(warnings[0]!['msg']), /gpu_enabled is true but .*running on CPU/);
    assert.equal((await engine.analyze('Fix the login bug')).capabilities.length, 7);
    await engine.close();
  });

  it('runs a user model named in [neural.models.<name>] with its own tensor names mapped', async () => {
    // A user model: our fit graph with other tensor names, no hub metadata.
    const onnxProto = (await import('onnx-proto')).default;
    const m = onnxProto.onnx.ModelProto.decode(
      agentFitOnnx({ w: new Float32Array([0, 0, 4, 0, 0, 0]), b: -2 }, { kind: 'agent_fit', name: 'x', version: 1 }),
    );
    m.metadataProps = [];
    const g = m.graph!;
    g.input![0]!.name = 'pair';
    g.output![0]!.name = 'prob';
    g.node![0]!.input = ['pair', 'W'];
    g.node![2]!.output = ['prob'];
    const file = path.join(dir, 'user-fit.onnx');
    writeFileSync(file, onnxProto.onnx.ModelProto.encode(m).finish());
    const toml = path.join(dir, 'hub.toml');
    writeFileSync(
      toml,
      `[neural.models.mine]\npath = "${file}"\nkind = "agent_fit"\ninputs = ["pair"]\noutputs = ["prob"]\nlabels = []\n`,
    );
    const cfg = loadConfig({ configFile: toml, env: { HIVE_ENV: 'test' } });
    const engine = await NeuralEngine.open({ config: cfg, modelsDir: MODELS_DIR, log: memoryLogger().log });
    const models = engine.status()['models'] as Array<{ kind: string; path: string; inputs: string[] }>;
    assert.deepEqual(
      models.find((x) => x.kind === 'agent_fit'),
      { kind: 'agent_fit', name: 'user-fit', version: 1, path: file, inputs: ['pair'], outputs: ['prob'] },
    );
    const p = await engine.fit(new Float32Array([1, 0.5, 1, 0, 0, 0]), 1);
    assert.ok(Math.abs(p[0]! - 1 / (1 + Math.exp(-2))) < 1e-5);
    assert.equal(await engine.maybeRetrain(true), undefined, 'a user fit model is not retrained');
    await engine.close();
  });
});

describe('neural: engine', function () {
  this.timeout(30_000);
  let engine: NeuralEngine;
  before(async () => {
    engine = await NeuralEngine.open({
      config: config({ HIVE_NEURAL_RETRAIN_MIN_SAMPLES: '10' }),
      modelsDir: MODELS_DIR,
      log: memoryLogger().log,
    });
  });
  after(() => engine.close());

  it('analyses text: capabilities most probable first, priority, keywords, model; the same text again comes from the cache', async () => {
    const a = await engine.analyze('Translate the contract appendix into Spanish');
    assert.equal(a.capabilities[0]!.name, 'translation');
    assert.equal(a.capabilities.length, 7);
    assert.ok(a.capabilities.every((c, i) => i === 0 || c.probability <= a.capabilities[i - 1]!.probability));
    assert.ok(['low', 'medium', 'high', 'critical'].includes(a.priority_hint));
    assert.deepEqual(a.model, { name: 'task-text', version: 1 });
    assert.equal(a.cached, false);
    assert.equal((await engine.analyze('Translate the contract appendix into Spanish')).cached, true);
    assert.equal(engine.clearCache(), 1);
    assert.equal((await engine.analyze('Translate the contract appendix into Spanish')).cached, false);
  });

  it('infers for tasks exactly what the analysis would give at the threshold', async () => {
    const texts = [
      'Translate the menu into French',
      'Fix the failing build and deploy the service',
      'Analyse churn by segment and write a summary',
      'hello',
    ];
    const inferred = await engine.infer(texts, 0.2);
    for (const [i, t] of texts.entries())
      assert.deepEqual(inferred[i], inferredFrom((await engine.analyze(t)).capabilities, 0.2), t);
  });

  it('analyses many texts at once exactly as one at a time, cached ones from the cache', async () => {
    const texts = ['Translate the menu into French', 'Übersetze das Handbuch', '', 'Fix the build', 'Fix the build'];
    engine.clearCache();
    const many = await engine.analyzeMany(texts);
    assert.equal(many.length, texts.length);
    assert.deepEqual(
      many.map((a) => a.cached),
      [false, false, false, false, false],
      'a repeat inside one call is analysed with the rest',
    );
    engine.clearCache();
    for (const [i, t] of texts.entries()) {
      const one = await engine.analyze(t);
      assert.deepEqual({ ...many[i], cached: false }, { ...one, cached: false }, t);
    }
    assert.ok(
      (await engine.analyzeMany(texts)).every((a) => a.cached),
      'the second call comes from the cache',
    );
  });

  it('the shipped classifier computes what its weights say (one gather, one batched MatMul)', async () => {
    const w = readClassifierWeights(readFileSync(path.join(MODELS_DIR, 'text-classifier.onnx')));
    assert.ok(w !== undefined);
    engine.clearCache();
    for (const text of ['Translate the contract appendix into Spanish', 'Prove the integral converges']) {
      const f = textFeatures(text);
      const a = await engine.analyze(text);
      const C = w.bc.length;
      for (const c of a.capabilities) {
        const k = CAPABILITY_LABELS.indexOf(c.name as (typeof CAPABILITY_LABELS)[number]);
        let z = w.bc[k]!;
        for (let j = 0; j < f.ids.length; j++) z += f.weights[j]! * w.wc[f.ids[j]! * C + k]!;
        assert.ok(Math.abs(c.probability - 1 / (1 + Math.exp(-z))) < 1e-4, `${text}: ${c.name}`);
      }
    }
    // Exported again from the weights read back, the model is the same bytes (nothing lost in the layout).
    const meta = readModelMeta(readFileSync(path.join(MODELS_DIR, 'text-classifier.onnx')))!;
    assert.deepEqual(
      Buffer.from(textClassifierOnnx(w, meta)),
      readFileSync(path.join(MODELS_DIR, 'text-classifier.onnx')),
    );
  });

  it('batches concurrent analyses into few runs', async () => {
    const before = (engine.status()['inferences'] as { batches: number }).batches;
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => engine.analyze(`distinct text number ${i} about data pipelines`)),
    );
    const batches = (engine.status()['inferences'] as { batches: number }).batches - before;
    assert.ok(batches <= 10, `200 analyses in ${batches} batches`);
  });

  it('retrains the fit model from outcomes and swaps it in while scoring continues, dropping no request', async () => {
    const samples = Array.from({ length: 400 }, (_, i) => {
      const f = [1, (i % 10) / 10, (i % 7) / 7, 0.5, 0.2, 0.1];
      return { features: f, success: f[2]! > 0.5 };
    });
    engine.record(samples);
    const x = new Float32Array(FIT_WIDTH * 8).fill(0.5);
    let failures = 0;
    let scored = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        await engine.fit(x, 8).then(
          () => scored++,
          () => failures++,
        );
      }
    })();
    const version = await engine.maybeRetrain();
    stop = true;
    await load;
    assert.equal(version, 2);
    assert.equal(failures, 0);
    assert.ok(scored > 0);
    const status = engine.status();
    assert.equal((status['fit_training'] as { version: number }).version, 2);
    assert.equal(await engine.maybeRetrain(), undefined, 'no new outcomes: nothing to do');
  });
});
