/**
 * Writes models/data/fit-outcomes.csv, the shipped data the initial agent-fit
 * model is trained on: simulated (task, agent) pairs with the FIT_FEATURES and
 * whether the task succeeded. Each simulated agent has a declared proficiency
 * and a hidden true skill near it; its success rate is what its history of
 * tasks showed; success depends on the hidden skill, on whether the agent holds
 * the required capabilities, and a little on load. Seeded: the same file each run.
 *
 *   npx tsx scripts/simulate-fit-outcomes.ts [--rows 4000] [--seed 7]
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { FIT_FEATURES } from '../src/neural/fit-features.js';
import { MODELS_DIR } from '../src/neural/dataset.js';
import { rng } from '../src/neural/train.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const random = rng(arg('seed', 7));
const clamp = (x: number): number => Math.min(1, Math.max(0, x));
const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

const lines = [[...FIT_FEATURES, 'success'].join(',')];
for (let i = 0; i < arg('rows', 4000); i++) {
  const declared = 0.3 + 0.7 * random();
  const skill = clamp(declared + 0.25 * normal());
  const done = Math.floor(random() ** 2 * 500);
  let ok = 0;
  for (let k = 0; k < done; k++) if (random() < skill) ok++;
  const successRate = done === 0 ? 1 : ok / done;
  const r = random();
  const match = r < 0.85 ? 1 : r < 0.95 ? 0.5 : 0;
  const load = random();
  const avgMs = Math.exp(random() * 10);
  const p = match < 1 ? 0.15 * match + 0.05 : skill * (1 - 0.15 * load);
  const features = [
    match,
    declared,
    successRate,
    Math.min(1, Math.log1p(done) / Math.log(1001)),
    Math.min(1, Math.log1p(avgMs) / Math.log1p(600_000)),
    load,
  ];
  lines.push([...features.map((f) => f.toFixed(4)), random() < p ? 1 : 0].join(','));
}
const file = path.join(MODELS_DIR, 'data', 'fit-outcomes.csv');
writeFileSync(file, `${lines.join('\n')}\n`);
process.stdout.write(`wrote ${lines.length - 1} simulated outcomes to ${file}\n`);
