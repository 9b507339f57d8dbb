/**
 * Text analysis with the classifier model: one text at a time through the
 * micro-batcher (concurrent callers share runs), many at once featurized
 * straight into the model's inputs, capability inference for submissions, and
 * the LRU cache of answers. Owned by the neural engine (engine.ts).
 */
import * as ort from 'onnxruntime-node';
import type { HubConfig } from '../config/index.js';
import { SampleWindow } from '../metrics/windows.js';
import { MicroBatcher, LruCache } from './batcher.js';
import { PRIORITY_LABELS } from './dataset.js';
import type { LoadedModel } from './models.js';
import {
  featurizeBatch,
  packFeatures,
  textFeatures,
  textKey,
  type FeatureBatch,
  type TextFeatures,
} from './text-features.js';

export interface Analysis {
  /** Every capability the classifier knows, most probable first. */
  capabilities: Array<{ name: string; probability: number }>;
  priority_hint: string;
  keywords: string[];
  tokens: number;
  model: { name: string; version: number };
  cached: boolean;
}

/** An analysis as run (cached: false); the cache keeps these, and a hit is a copy with cached: true. */
type Answer = Analysis;

export class TextAnalyzer {
  readonly cache: LruCache<Answer>;
  readonly latency = new SampleWindow(2048);
  /** Analyses asked for, texts inferred for tasks, classifier runs and the texts in them. */
  readonly counts = { analyses: 0, inferred: 0, batches: 0, items: 0 };
  private readonly batcher: MicroBatcher<TextFeatures, Answer>;

  constructor(
    private readonly classifier: LoadedModel,
    private readonly config: HubConfig['neural'],
  ) {
    this.cache = new LruCache(config.cache_size);
    this.batcher = new MicroBatcher((rows) => this.runClassifier(rows), {
      maxBatch: config.batch_max,
      waitMs: config.batch_wait_ms,
    });
  }

  /** Texts waiting or running in the micro-batcher. */
  get pending(): number {
    return this.batcher.pending;
  }

  /** Analyses one text (cached by its hash; misses are micro-batched). */
  async analyze(text: string): Promise<Analysis> {
    const started = performance.now();
    this.counts.analyses++;
    const key = this.cache.capacity === 0 ? '' : textKey(text);
    const hit = key === '' ? undefined : this.cache.get(key);
    if (hit !== undefined) {
      this.latency.record(performance.now() - started);
      return { ...hit, cached: true };
    }
    const out = await this.batcher.submit(textFeatures(text));
    if (key !== '') this.cache.set(key, out);
    this.latency.record(performance.now() - started);
    return out;
  }

  /**
   * Analyses of many texts (POST /api/neural/analyze/batch): cached ones from
   * the cache, the rest featurized straight into the classifier's inputs and
   * run batch_max at a time, with no promise or feature arrays per text.
   */
  async analyzeMany(texts: readonly string[]): Promise<Analysis[]> {
    const started = performance.now();
    this.counts.analyses += texts.length;
    const out: Analysis[] = new Array<Analysis>(texts.length);
    const keys = this.cache.capacity === 0 ? undefined : texts.map((t) => textKey(t));
    const misses: number[] = [];
    texts.forEach((_, i) => {
      const hit = keys === undefined ? undefined : this.cache.get(keys[i]!);
      if (hit !== undefined) out[i] = { ...hit, cached: true };
      else misses.push(i);
    });
    const step = this.config.batch_max;
    for (let i = 0; i < misses.length; i += step) {
      const part = misses.slice(i, i + step);
      const answers = await this.classify(
        featurizeBatch(
          part.map((j) => texts[j]!),
          true,
        ),
        part.length,
      );
      part.forEach((j, k) => {
        const a = answers[k]!;
        if (keys !== undefined) this.cache.set(keys[j]!, a);
        out[j] = a;
      });
    }
    const ms = performance.now() - started;
    for (let i = 0; i < texts.length; i++) this.latency.record(ms);
    return out;
  }

  private runClassifier(rows: TextFeatures[]): Promise<Answer[]> {
    const packed = packFeatures(rows);
    return this.classify(
      { ...packed, tokens: rows.map((r) => r.tokens), keywords: rows.map((r) => r.keywords) },
      rows.length,
    );
  }

  /** One classifier run over n featurized texts: their analyses, capabilities most probable first. */
  private async classify(b: FeatureBatch, n: number): Promise<Answer[]> {
    const m = this.classifier;
    const r = await m.session.run({
      [m.inputs[0]!]: new ort.Tensor('int32', b.ids, [n, b.width]),
      [m.inputs[1]!]: new ort.Tensor('float32', b.weights, [n, b.width]),
    });
    const caps = r[m.outputs[0]!]!.data as Float32Array;
    const pri = r[m.outputs[1]!]!.data as Float32Array;
    const L = m.labels.length;
    const P = PRIORITY_LABELS.length;
    this.counts.batches++;
    this.counts.items += n;
    const model = { name: m.name, version: m.version };
    const out: Answer[] = [];
    const order = new Int32Array(L);
    for (let i = 0; i < n; i++) {
      // The labels most probable first (a stable insertion sort of a handful of indices).
      for (let k = 0; k < L; k++) {
        let at = k;
        while (at > 0 && caps[i * L + order[at - 1]!]! < caps[i * L + k]!) {
          order[at] = order[at - 1]!;
          at--;
        }
        order[at] = k;
      }
      const capabilities: Array<{ name: string; probability: number }> = [];
      for (let k = 0; k < L; k++)
        capabilities.push({
          name: m.labels[order[k]!]!,
          probability: Math.round(caps[i * L + order[k]!]! * 10_000) / 10_000,
        });
      let best = 0;
      for (let k = 1; k < P; k++) if (pri[i * P + k]! > pri[i * P + best]!) best = k;
      out.push({
        capabilities,
        priority_hint: PRIORITY_LABELS[best]!,
        keywords: b.keywords[i] ?? [],
        tokens: b.tokens[i] ?? 0,
        model,
        cached: false,
      });
    }
    return out;
  }

  /**
   * The capabilities to record as inferred for each text (task_management's
   * path): one run per batch_max texts, no cache and no per-text answer object,
   * so inference costs a submission as little as it can.
   */
  async infer(
    texts: readonly string[],
    threshold: number,
  ): Promise<Array<Array<{ name: string; probability: number }>>> {
    const m = this.classifier;
    const L = m.labels.length;
    const out: Array<Array<{ name: string; probability: number }>> = [];
    const step = this.config.batch_max;
    for (let i = 0; i < texts.length; i += step) {
      const part = texts.slice(i, i + step);
      const packed = featurizeBatch(part, false);
      const r = await m.session.run({
        [m.inputs[0]!]: new ort.Tensor('int32', packed.ids, [part.length, packed.width]),
        [m.inputs[1]!]: new ort.Tensor('float32', packed.weights, [part.length, packed.width]),
      });
      const caps = r[m.outputs[0]!]!.data as Float32Array;
      for (let j = 0; j < part.length; j++) {
        let best = 0;
        const picked: Array<{ name: string; probability: number }> = [];
        for (let k = 0; k < L; k++) {
          const p = caps[j * L + k]!;
          if (p > caps[j * L + best]!) best = k;
          if (p >= threshold) picked.push({ name: m.labels[k]!, probability: Math.round(p * 10_000) / 10_000 });
        }
        // As inferredFrom: at least the most likely one when it reaches half the threshold.
        if (picked.length === 0 && caps[j * L + best]! >= threshold / 2)
          picked.push({ name: m.labels[best]!, probability: Math.round(caps[j * L + best]! * 10_000) / 10_000 });
        out.push(picked.sort((a, b) => b.probability - a.probability));
      }
      this.counts.inferred += part.length;
    }
    return out;
  }
}
