/**
 * The neural engine: ONNX Runtime sessions for the text classifier and the
 * agent-fit model, micro-batched text analysis with an LRU cache, fit scoring,
 * and in-process retraining of the fit model from recorded outcomes (exported
 * to ONNX and swapped in; requests already running finish on the old session).
 * The neural processor actor owns one engine; a restart opens a new one.
 */
import { existsSync, mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { HubConfig } from '../config/index.js';
import { errorMessage } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { round2 } from '../metrics/windows.js';
import { FIT_WIDTH, type FitSample } from './fit-features.js';
import { loadModel, modelSpecs, type LoadedModel } from './models.js';
import { agentFitOnnx, readLogisticWeights } from './onnx-export.js';
import { trainLogistic, type LogisticWeights } from './train.js';
import { TextAnalyzer, type Analysis } from './text-analysis.js';

export type { Analysis } from './text-analysis.js';

export interface NeuralEngineOptions {
  config: HubConfig;
  /** The built-in models (models/ of the package). */
  modelsDir: string;
  log: Logger;
  /** Where a retrained fit model is kept across restarts; undefined: memory only. */
  stateDir?: string | undefined;
}

export type Backend = 'cpu' | 'cuda';

/** Execution providers to use, and why: CUDA only when asked for and present. */
async function chooseBackend(
  config: HubConfig,
  log: Logger,
  probe: string,
): Promise<{ backend: Backend; providers: ort.InferenceSession.ExecutionProviderConfig[]; reason: string }> {
  const cpu = { backend: 'cpu' as const, providers: ['cpu'] };
  if (!config.neural.gpu_enabled) return { ...cpu, reason: 'gpu_enabled is false' };
  const cuda = ort.listSupportedBackends().find((b) => b.name === 'cuda');
  const limit = config.neural.gpu_memory_limit_mb;
  const cudaProvider: ort.InferenceSession.ExecutionProviderConfig = {
    name: 'cuda',
    ...(limit > 0 ? { gpuMemLimit: limit * 1024 * 1024 } : {}),
  };
  let reason: string;
  if (cuda === undefined) reason = 'this onnxruntime-node build has no CUDA execution provider';
  else if (!cudaLibraryPresent())
    reason = 'onnxruntime-node was installed without its CUDA provider library (libonnxruntime_providers_cuda.so)';
  else {
    try {
      const s = await ort.InferenceSession.create(probe, { executionProviders: [cudaProvider], logSeverityLevel: 4 });
      await s.release();
      return {
        backend: 'cuda',
        providers: [cudaProvider, 'cpu'],
        reason: 'gpu_enabled and the CUDA execution provider loaded',
      };
    } catch (err) {
      reason = `the CUDA execution provider did not load (${errorMessage(err).split('\n')[0]})`;
    }
  }
  log.warn(
    { module: 'neural', event: 'neural.cpu_fallback' },
    `neural: gpu_enabled is true but ${reason}; running on CPU`,
  );
  return { ...cpu, reason };
}

/** Whether onnxruntime-node's CUDA provider library sits beside its native binding (the install script adds it). */
function cudaLibraryPresent(): boolean {
  try {
    const root = path.dirname(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')));
    const bin = path.join(root, 'bin', 'napi-v6', process.platform, process.arch);
    return (
      existsSync(path.join(bin, 'libonnxruntime_providers_cuda.so')) ||
      existsSync(path.join(bin, 'onnxruntime_providers_cuda.dll'))
    );
  } catch {
    return false;
  }
}

export class NeuralEngine {
  private readonly text: TextAnalyzer;
  private readonly samples: FitSample[] = [];
  private samplesSinceTrain = 0;
  private fitWeights: LogisticWeights | undefined;
  private retiring: LoadedModel[] = [];
  private readonly c = {
    fit_runs: 0,
    fit_rows: 0,
    retrains: 0,
    retrain_failures: 0,
    last_retrain_at: '',
  };

  private constructor(
    private readonly o: NeuralEngineOptions,
    private readonly classifier: LoadedModel,
    private fitModel: LoadedModel,
    readonly backend: Backend,
    private readonly backendReason: string,
    private readonly providers: ort.InferenceSession.ExecutionProviderConfig[],
  ) {
    this.text = new TextAnalyzer(classifier, o.config.neural);
    this.fitWeights = readLogisticWeights(fitModel.bytes);
  }

  /** Opens and checks every model; a file that breaks its contract throws MODEL_INVALID naming it. */
  static async open(o: NeuralEngineOptions): Promise<NeuralEngine> {
    const specs = modelSpecs(o.config, o.modelsDir);
    const chosen = await chooseBackend(o.config, o.log, specs.agent_fit.path);
    const userFit = Object.values(o.config.neural.models).some((m) => m.kind === 'agent_fit');
    // A fit model retrained earlier (kept in the state directory) replaces the built-in one.
    const kept = o.stateDir === undefined || userFit ? undefined : path.join(o.stateDir, 'agent-fit.onnx');
    let fit: LoadedModel;
    try {
      fit = await loadModel(
        kept !== undefined && existsSync(kept) ? { kind: 'agent_fit', path: kept } : specs.agent_fit,
        chosen.providers,
      );
    } catch (err) {
      if (kept === undefined || !existsSync(kept)) throw err;
      o.log.warn(
        { err, module: 'neural' },
        `neural: the retrained fit model ${kept} is unusable (${errorMessage(err)}); using the built-in one`,
      );
      fit = await loadModel(specs.agent_fit, chosen.providers);
    }
    const classifier = await loadModel(specs.text_classifier, chosen.providers);
    return new NeuralEngine(o, classifier, fit, chosen.backend, chosen.reason, chosen.providers);
  }

  /** Analyses one text (cached by its hash; misses are micro-batched). */
  analyze(text: string): Promise<Analysis> {
    return this.text.analyze(text);
  }

  /** Analyses of many texts at once (text-analysis.ts). */
  analyzeMany(texts: readonly string[]): Promise<Analysis[]> {
    return this.text.analyzeMany(texts);
  }

  /** The capabilities to record as inferred for each text (task_management's path; text-analysis.ts). */
  infer(texts: readonly string[], threshold: number): Promise<Array<Array<{ name: string; probability: number }>>> {
    return this.text.infer(texts, threshold);
  }

  /** P(success) for each row of pair features ([rows, FIT_WIDTH], row-major). */
  async fit(features: Float32Array, rows: number): Promise<Float32Array> {
    const m = this.fitModel;
    this.c.fit_runs++;
    this.c.fit_rows += rows;
    const r = await m.session.run({ [m.inputs[0]!]: new ort.Tensor('float32', features, [rows, FIT_WIDTH]) });
    return r[m.outputs[0]!]!.data as Float32Array;
  }

  /** Outcomes to learn from (the most recent retrain_window are kept). */
  record(samples: readonly FitSample[]): void {
    const max = this.o.config.neural.retrain_window;
    for (const s of samples) {
      if (s.features.length !== FIT_WIDTH) continue;
      this.samples.push(s);
      this.samplesSinceTrain++;
    }
    if (this.samples.length > max) this.samples.splice(0, this.samples.length - max);
  }

  /**
   * Retrains the fit model when enough new outcomes came in: logistic regression
   * warm started from the current weights, exported to ONNX, opened, and swapped
   * in. Returns the new version, or undefined when it was not time.
   */
  async maybeRetrain(force = false): Promise<number | undefined> {
    const n = this.o.config.neural;
    if (!force && this.samplesSinceTrain < n.retrain_min_samples) return undefined;
    if (this.samples.length === 0 || Object.values(n.models).some((m) => m.kind === 'agent_fit')) return undefined;
    this.samplesSinceTrain = 0;
    const x = new Float32Array(this.samples.length * FIT_WIDTH);
    const y = new Uint8Array(this.samples.length);
    this.samples.forEach((s, i) => {
      x.set(s.features, i * FIT_WIDTH);
      y[i] = s.success ? 1 : 0;
    });
    try {
      const weights = trainLogistic(x, y, FIT_WIDTH, {
        iterations: 300,
        lr: 1,
        ...(this.fitWeights ? { init: this.fitWeights } : {}),
      });
      const version = this.fitModel.version + 1;
      const bytes = agentFitOnnx(weights, {
        kind: 'agent_fit',
        name: 'agent-fit',
        version,
        info: { trained_on: this.samples.length, retrained_in_process: true },
      });
      const file = this.keep(bytes);
      const next = await loadModel({ kind: 'agent_fit', path: file }, this.providers);
      const old = this.fitModel;
      this.fitModel = next;
      this.fitWeights = weights;
      this.retire(old);
      this.c.retrains++;
      this.c.last_retrain_at = new Date().toISOString();
      this.o.log.info(
        { module: 'neural', event: 'neural.retrained', version, samples: this.samples.length },
        `neural: agent-fit model retrained on ${this.samples.length} outcomes (version ${version})`,
      );
      return version;
    } catch (err) {
      this.c.retrain_failures++;
      this.o.log.warn({ err, module: 'neural' }, `neural: retraining the agent-fit model failed: ${errorMessage(err)}`);
      return undefined;
    }
  }

  /** Writes the model where it survives a restart (or a temporary file), atomically. */
  private keep(bytes: Uint8Array): string {
    const dir = this.o.stateDir ?? path.join(os.tmpdir(), `hub-neural-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'agent-fit.onnx');
    writeFileSync(`${file}.tmp`, bytes);
    renameSync(`${file}.tmp`, file);
    return file;
  }

  /** A swapped-out session is released once the runs that use it are surely done. */
  private retire(m: LoadedModel): void {
    this.retiring.push(m);
    setTimeout(() => {
      this.retiring = this.retiring.filter((r) => r !== m);
      void m.session.release().catch(() => undefined);
    }, 5000).unref();
  }

  clearCache(): number {
    return this.text.cache.clear();
  }

  status(): Record<string, unknown> {
    const { cache, counts: t, latency } = this.text;
    return {
      enabled: true,
      backend: this.backend,
      backend_reason: this.backendReason,
      gpu_enabled: this.o.config.neural.gpu_enabled,
      cuda_version: this.o.config.neural.cuda_version,
      models: [this.classifier, this.fitModel].map((m) => ({
        kind: m.kind,
        name: m.name,
        version: m.version,
        path: m.path,
        inputs: m.inputs,
        outputs: m.outputs,
        ...(m.kind === 'text_classifier' ? { labels: m.labels } : {}),
      })),
      cache: {
        size: cache.size,
        capacity: cache.capacity,
        hits: cache.hits,
        misses: cache.misses,
        hit_rate: round2(cache.hits / Math.max(1, cache.hits + cache.misses)),
      },
      inferences: {
        analyses: t.analyses,
        inferred_for_tasks: t.inferred,
        batches: t.batches,
        batched_items: t.items,
        average_batch: round2(t.items / Math.max(1, t.batches)),
        fit_runs: this.c.fit_runs,
        fit_rows: this.c.fit_rows,
      },
      latency_ms: {
        p50: round2(latency.percentile(50)),
        p99: round2(latency.percentile(99)),
        samples: latency.count,
      },
      fit_training: {
        samples: this.samples.length,
        since_last: this.samplesSinceTrain,
        retrains: this.c.retrains,
        failures: this.c.retrain_failures,
        last_at: this.c.last_retrain_at || null,
        version: this.fitModel.version,
      },
    };
  }

  /** Releases the sessions once the work in hand is done (a restart's old engine). */
  async close(): Promise<void> {
    const deadline = Date.now() + 5000;
    while (this.text.pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await Promise.all(
      [this.classifier, this.fitModel, ...this.retiring].map((m) => m.session.release().catch(() => undefined)),
    );
    this.retiring = [];
  }
}
