/**
 * Features of a (task, agent) pair for the agent-fit model, each in [0, 1].
 * The model answers the probability that the agent completes the task; the
 * distributor discounts it by load the same way the declared-capability score
 * does (domain fitScore), so a good agent is not buried under work.
 */
import type { Agent, RequiredCapability } from '../domain/index.js';

export const FIT_FEATURES = [
  'capability_match',
  'proficiency',
  'success_rate',
  'experience',
  'avg_duration',
  'load',
] as const;
export const FIT_WIDTH = FIT_FEATURES.length;

/** A capability the task is expected to need: required (weight 1) or inferred from its text (weight = probability). */
export interface WeightedCapability {
  name: string;
  weight: number;
}

export interface FitSample {
  features: number[];
  success: boolean;
}

/** The capabilities a task's fit is judged on: its required ones, else those inferred from its text. */
export function fitCapabilities(
  required: readonly RequiredCapability[],
  inferred: ReadonlyArray<{ name: string; probability: number }> | null,
): WeightedCapability[] {
  if (required.length > 0) return required.map((r) => ({ name: r.name, weight: 1 }));
  return (inferred ?? []).map((c) => ({ name: c.name, weight: c.probability }));
}

/** Writes the pair's features at `out[offset ..]`. */
export function writeFitFeatures(
  agent: Pick<Agent, 'capabilities' | 'stats'>,
  caps: readonly WeightedCapability[],
  load: { running: number; capacity: number },
  out: Float32Array | number[],
  offset = 0,
): void {
  let weight = 0;
  let matched = 0;
  let proficiency = 0;
  for (const c of caps) {
    const held = agent.capabilities.find((a) => a.name === c.name);
    weight += c.weight;
    if (held !== undefined) {
      matched += c.weight;
      proficiency += c.weight * held.proficiency;
    }
  }
  const s = agent.stats;
  const done = s.tasks_completed + s.tasks_failed;
  out[offset] = weight === 0 ? 1 : matched / weight;
  out[offset + 1] = weight === 0 ? 0.5 : proficiency / weight;
  out[offset + 2] = s.success_rate;
  out[offset + 3] = Math.min(1, Math.log1p(done) / Math.log(1001));
  out[offset + 4] = Math.min(1, Math.log1p(s.average_duration_ms) / Math.log1p(600_000));
  out[offset + 5] = load.capacity <= 0 ? 1 : Math.min(1, load.running / load.capacity);
}

/** The load discount shared with the declared-capability score: free capacity counts for 3/4 of the score. */
export function loadDiscount(load: { running: number; capacity: number }): number {
  const free = load.capacity <= 0 ? 0 : Math.max(0, 1 - load.running / load.capacity);
  return 0.25 + 0.75 * free;
}
