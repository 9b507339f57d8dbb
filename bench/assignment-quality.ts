/**
 * Learning effect of the agent-fit model on assignment quality.
 *
 * Simulated agents hold every capability with a declared proficiency, but their
 * hidden true skill differs from it (drawn around the declared value, so that
 * declarations are an unreliable guide). Each task needs one capability and
 * succeeds with the chosen agent's hidden skill in it. Two choosers see the same
 * task stream and keep agent state the way the hub does (stats, and proficiency
 * learning at [agents] learning_rate):
 * - declared: the distributor without the neural model (domain fitScore);
 * - fit model: the distributor with it (the ONNX agent-fit model through the
 *   NeuralEngine, retrained in process from the outcomes every `--retrain` tasks).
 * Reported: the success rate of the last 200 assignments after K outcomes, per
 * seed, with mean and standard deviation over the seeds; random choice and the
 * oracle (the truly best agent) bound the scale.
 *
 *   npx tsx bench/assignment-quality.ts [--agents 8] [--tasks 3000] [--seeds 5] [--retrain 200] [--learning-rate 0.05]
 */
import { loadConfig } from '../src/config/index.js';
import { EMPTY_STATS, fitScore, learn, type Agent } from '../src/domain/index.js';
import { createLogger } from '../src/log/logger.js';
import { MODELS_DIR } from '../src/neural/dataset.js';
import { NeuralEngine } from '../src/neural/engine.js';
import { FIT_WIDTH, writeFitFeatures, type FitSample } from '../src/neural/fit-features.js';
import { rng } from '../src/neural/train.js';
import { arg, emit } from './lib/cli.js';

const CAPS = ['code', 'data-analysis', 'research', 'writing', 'math', 'translation', 'operations'];
const agentsN = Number(arg('agents', '8'));
const tasksN = Number(arg('tasks', '3000'));
const seeds = Number(arg('seeds', '5'));
const retrainEvery = Number(arg('retrain', '200'));
const learningRate = Number(arg('learning-rate', '0.05'));
const checkpoints = [200, 500, 1000, 2000, 3000].filter((k) => k <= tasksN);
const WINDOW = 200;

type SimAgent = Pick<Agent, 'capabilities' | 'stats'> & { skill: Record<string, number> };

function makeAgents(random: () => number): SimAgent[] {
  return Array.from({ length: agentsN }, () => {
    const skill: Record<string, number> = {};
    const capabilities = CAPS.map((name) => {
      const declared = 0.3 + 0.6 * random();
      // Hidden skill: unrelated to the declaration half of the time, near it otherwise.
      skill[name] =
        random() < 0.5 ? 0.1 + 0.85 * random() : Math.min(0.98, Math.max(0.05, declared + 0.2 * (random() - 0.5)));
      return { name, proficiency: Math.round(declared * 100) / 100 };
    });
    return { capabilities, stats: { ...EMPTY_STATS }, skill };
  });
}

/** What agent_management does after an outcome: stats, and proficiency learning. */
function update(a: SimAgent, cap: string, success: boolean): void {
  const s = a.stats;
  const completed = s.tasks_completed + (success ? 1 : 0);
  const failed = s.tasks_failed + (success ? 0 : 1);
  a.stats = {
    tasks_completed: completed,
    tasks_failed: failed,
    success_rate: completed / (completed + failed),
    average_duration_ms: 50,
  };
  if (learningRate > 0)
    a.capabilities = learn(a.capabilities, [{ name: cap, min_proficiency: 0 }], success, learningRate);
}

type Chooser = 'declared' | 'fit' | 'random' | 'oracle';

async function run(chooser: Chooser, seed: number, engine: NeuralEngine | undefined): Promise<number[]> {
  const random = rng(seed);
  const agents = makeAgents(random);
  const outcomes = rng(seed * 7919 + 1); // the same draws for every chooser
  const picks = rng(seed * 104729 + 3);
  const results: boolean[] = [];
  const rates: number[] = [];
  const pending: FitSample[] = [];
  for (let t = 0; t < tasksN; t++) {
    const cap = CAPS[Math.floor(random() * CAPS.length)]!;
    const draw = outcomes();
    let chosen = 0;
    if (chooser === 'random') chosen = Math.floor(picks() * agents.length);
    else if (chooser === 'oracle')
      chosen = agents.reduce((b, a, i) => (a.skill[cap]! > agents[b]!.skill[cap]! ? i : b), 0);
    else if (chooser === 'declared')
      chosen = agents.reduce(
        (b, a, i) =>
          fitScore(a, [{ name: cap, min_proficiency: 0 }], { running: 0, capacity: 1 }) >
          fitScore(agents[b]!, [{ name: cap, min_proficiency: 0 }], { running: 0, capacity: 1 })
            ? i
            : b,
        0,
      );
    else {
      const x = new Float32Array(agents.length * FIT_WIDTH);
      agents.forEach((a, i) =>
        writeFitFeatures(a, [{ name: cap, weight: 1 }], { running: 0, capacity: 1 }, x, i * FIT_WIDTH),
      );
      const p = await engine!.fit(x, agents.length);
      chosen = Array.from(p).reduce((b, v, i) => (v > p[b]! ? i : b), 0);
      pending.push({
        features: Array.from(x.slice(chosen * FIT_WIDTH, (chosen + 1) * FIT_WIDTH)),
        success: draw < agents[chosen]!.skill[cap]!,
      });
      if (pending.length >= retrainEvery) {
        engine!.record(pending.splice(0));
        await engine!.maybeRetrain();
      }
    }
    const success = draw < agents[chosen]!.skill[cap]!;
    update(agents[chosen]!, cap, success);
    results.push(success);
    if (checkpoints.includes(t + 1)) rates.push(results.slice(-WINDOW).filter(Boolean).length / WINDOW);
  }
  return rates;
}

const stats = (xs: number[]): { mean: number; sd: number } => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1));
  return { mean: Math.round(mean * 1000) / 1000, sd: Math.round(sd * 1000) / 1000 };
};

const log = createLogger({ level: 'error', nodeId: 'bench' });
const bySeed: Record<Chooser, number[][]> = { declared: [], fit: [], random: [], oracle: [] };
for (let seed = 1; seed <= seeds; seed++) {
  // A fresh engine per seed: the fit model starts from the shipped one each time.
  const config = loadConfig({ env: { HIVE_ENV: 'test', HIVE_NEURAL_RETRAIN_MIN_SAMPLES: String(retrainEvery) } });
  const engine = await NeuralEngine.open({ config, modelsDir: MODELS_DIR, log });
  for (const c of ['declared', 'fit', 'random', 'oracle'] as const)
    bySeed[c].push(await run(c, seed, c === 'fit' ? engine : undefined));
  await engine.close();
  process.stderr.write(
    `seed ${seed}: ${(['declared', 'fit', 'random', 'oracle'] as const).map((c) => `${c} ${bySeed[c].at(-1)!.join('/')}`).join('; ')}\n`,
  );
}
const summary = Object.fromEntries(
  checkpoints.map((k, i) => [
    `after_${k}`,
    Object.fromEntries(
      (['declared', 'fit', 'random', 'oracle'] as const).map((c) => [c, stats(bySeed[c].map((r) => r[i]!))]),
    ),
  ]),
);
emit('assignment-quality', {
  agents: agentsN,
  tasks: tasksN,
  seeds,
  retrain_every: retrainEvery,
  learning_rate: learningRate,
  window: WINDOW,
  success_rate_by_seed: bySeed,
  success_rate: summary,
});
process.exit(0);
