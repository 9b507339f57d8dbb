/**
 * `npm run build:models`: trains the project's two models from the data under
 * models/data and writes the .onnx files the hub loads:
 * - models/text-classifier.onnx, trained on the training part of the fixed
 *   split of models/data/tasks.tsv (the held-out part is left for eval:models);
 * - models/agent-fit.onnx, trained on models/data/fit-outcomes.csv.
 * Deterministic: the same data gives the same files.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CAPABILITY_LABELS,
  MODELS_DIR,
  PRIORITY_LABELS,
  loadTaskDataset,
  splitDataset,
  type LabelledTask,
} from '../src/neural/dataset.js';
import { inferredFrom, scoreClassifier } from '../src/neural/evaluate.js';
import { FIT_FEATURES, FIT_WIDTH } from '../src/neural/fit-features.js';
import { agentFitOnnx, textClassifierOnnx } from '../src/neural/onnx-export.js';
import { HASH_BUCKETS, textFeatures } from '../src/neural/text-features.js';
import { trainClassifier, trainLogistic, type ClassifierWeights } from '../src/neural/train.js';

const { train, heldOut } = splitDataset(loadTaskDataset());

function fitClassifier(tasks: LabelledTask[]): ClassifierWeights {
  return trainClassifier(
    {
      rows: tasks.map((t) => textFeatures(t.text)),
      labels: tasks.map((t) => t.capabilities.map((c) => (CAPABILITY_LABELS as readonly string[]).indexOf(c))),
      priority: tasks.map((t) => (PRIORITY_LABELS as readonly string[]).indexOf(t.priority)),
    },
    { buckets: HASH_BUCKETS, labels: CAPABILITY_LABELS.length, priorities: PRIORITY_LABELS.length, seed: 1 },
  );
}

/** Probabilities of one text under trained weights (the same sums the ONNX graph computes). */
function predict(
  w: ClassifierWeights,
  text: string,
): { capabilities: Array<{ name: string; probability: number }>; priority: string } {
  const f = textFeatures(text);
  const C = CAPABILITY_LABELS.length;
  const P = PRIORITY_LABELS.length;
  const capabilities = CAPABILITY_LABELS.map((name, c) => {
    let z = w.bc[c]!;
    for (let j = 0; j < f.ids.length; j++) z += f.weights[j]! * w.wc[f.ids[j]! * C + c]!;
    return { name, probability: 1 / (1 + Math.exp(-z)) };
  });
  let best = 0;
  let bestZ = -Infinity;
  for (let p = 0; p < P; p++) {
    let z = w.bp[p]!;
    for (let j = 0; j < f.ids.length; j++) z += f.weights[j]! * w.wp[f.ids[j]! * P + p]!;
    if (z > bestZ) [best, bestZ] = [p, z];
  }
  return { capabilities, priority: PRIORITY_LABELS[best]! };
}

// The threshold for inferred capabilities is chosen by 5-fold cross-validation on the training part only.
const THRESHOLDS = [0.2, 0.3, 0.4, 0.5];
const folds = Array.from({ length: 5 }, (_, k) => train.filter((_, i) => i % 5 === k));
const cv = THRESHOLDS.map((threshold) => {
  const f1s = folds.map((fold, k) => {
    const w = fitClassifier(folds.filter((_, j) => j !== k).flat());
    return scoreClassifier(
      fold,
      fold.map((t) => {
        const p = predict(w, t.text);
        return { capabilities: inferredFrom(p.capabilities, threshold).map((c) => c.name), priority: p.priority };
      }),
    ).micro_f1;
  });
  return { threshold, micro_f1: Math.round((f1s.reduce((a, b) => a + b, 0) / f1s.length) * 1000) / 1000 };
});
const chosen = cv.reduce((a, b) => (b.micro_f1 > a.micro_f1 ? b : a));
const weights = fitClassifier(train);
const classifier = textClassifierOnnx(weights, {
  kind: 'text_classifier',
  name: 'task-text',
  version: 1,
  labels: [...CAPABILITY_LABELS],
  priorities: [...PRIORITY_LABELS],
  info: {
    trained_on: train.length,
    held_out: heldOut.length,
    features: `unigrams, bigrams and character 4-grams hashed into ${HASH_BUCKETS} buckets`,
    cross_validation: cv,
    threshold: chosen.threshold,
  },
});
writeFileSync(path.join(MODELS_DIR, 'text-classifier.onnx'), classifier);

const csv = readFileSync(path.join(MODELS_DIR, 'data', 'fit-outcomes.csv'), 'utf8')
  .trim()
  .split('\n');
const header = csv[0]!.split(',');
if (header.slice(0, FIT_WIDTH).join(',') !== FIT_FEATURES.join(','))
  throw new Error(`fit-outcomes.csv: expected columns ${FIT_FEATURES.join(',')},success`);
const body = csv.slice(1).map((l) => l.split(',').map(Number));
const x = new Float32Array(body.length * FIT_WIDTH);
const y = new Uint8Array(body.length);
body.forEach((r, i) => {
  for (let k = 0; k < FIT_WIDTH; k++) x[i * FIT_WIDTH + k] = r[k]!;
  y[i] = r[FIT_WIDTH]! > 0 ? 1 : 0;
});
const fit = trainLogistic(x, y, FIT_WIDTH, { iterations: 2000, lr: 2 });
writeFileSync(
  path.join(MODELS_DIR, 'agent-fit.onnx'),
  agentFitOnnx(fit, {
    kind: 'agent_fit',
    name: 'agent-fit',
    version: 1,
    info: { trained_on: body.length, features: [...FIT_FEATURES] },
  }),
);

process.stdout.write(
  `${JSON.stringify({ text_classifier: { file: 'models/text-classifier.onnx', bytes: classifier.length, trained_on: train.length, held_out: heldOut.length, cross_validation: cv, chosen_threshold: chosen.threshold }, agent_fit: { file: 'models/agent-fit.onnx', trained_on: body.length, weights: Object.fromEntries(FIT_FEATURES.map((f, k) => [f, Math.round(fit.w[k]! * 1000) / 1000])), bias: Math.round(fit.b * 1000) / 1000 } }, null, 2)}\n`,
);
