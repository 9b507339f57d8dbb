/**
 * `npm run eval:models`: the text classifier's scores on the held-out part of
 * the fixed split of models/data/tasks.tsv (build:models trains on the rest),
 * run through ONNX Runtime on the shipped model file, as the hub runs it.
 * Prints JSON; exits 1 if the model is missing or broken.
 */
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/log/logger.js';
import { MODELS_DIR, loadTaskDataset, splitDataset } from '../src/neural/dataset.js';
import { NeuralEngine } from '../src/neural/engine.js';
import { inferredFrom, scoreClassifier } from '../src/neural/evaluate.js';

const config = loadConfig({ env: { HIVE_ENV: 'test', HIVE_NEURAL_CACHE_SIZE: '0' } });
const engine = await NeuralEngine.open({
  config,
  modelsDir: MODELS_DIR,
  log: createLogger({ level: 'warn', nodeId: 'eval' }),
});
const { train, heldOut } = splitDataset(loadTaskDataset());
const analysed = await Promise.all(heldOut.map((t) => engine.analyze(t.text)));
const predicted = analysed.map((a) => ({
  capabilities: inferredFrom(a.capabilities, config.neural.inferred_threshold).map((c) => c.name),
  priority: a.priority_hint,
}));
const trainScores = scoreClassifier(
  train,
  (await Promise.all(train.map((t) => engine.analyze(t.text)))).map((a) => ({
    capabilities: inferredFrom(a.capabilities, config.neural.inferred_threshold).map((c) => c.name),
    priority: a.priority_hint,
  })),
);
const heldOutScores = scoreClassifier(heldOut, predicted);
const mistakes = heldOut
  .map((t, i) => ({ text: t.text, want: t.capabilities, got: predicted[i]!.capabilities }))
  .filter((m) => m.want.length !== m.got.length || m.want.some((c) => !m.got.includes(c)))
  .slice(0, 10);
process.stdout.write(
  `${JSON.stringify({ model: analysed[0]?.model, split: { train: train.length, held_out: heldOut.length, rule: 'text hash mod 5 == 4 is held out' }, threshold: config.neural.inferred_threshold, held_out: heldOutScores, train: { micro_f1: trainScores.micro_f1, priority_accuracy: trainScores.priority_accuracy }, sample_mistakes: mistakes }, null, 2)}\n`,
);
await engine.close();
