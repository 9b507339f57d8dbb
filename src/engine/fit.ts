/** Placement by the neural fit model: P(success) for every (task, capable agent) pair of a claimed batch, in one inference. */
import { missingCapability, type Task } from '../domain/index.js';
import { FIT_WIDTH, fitCapabilities, writeFitFeatures } from '../neural/fit-features.js';
import { queuedLoad, takesWork, type Slot } from './placement.js';
import type { FitModel } from './types.js';

/** P(success) per task and agent id, for the tasks that have a choice. */
export type FitScores = Map<Task, Map<string, number>>;

/**
 * Scores a claimed batch; undefined when there is nothing to choose (a single
 * capable agent, or interchangeable ones). Rejects when the model fails (the
 * caller places by declared capabilities then). `pairs` counts what was scored.
 */
export async function scoreFit(
  model: FitModel,
  all: Iterable<Slot>,
  tasks: readonly Task[],
  prefetch: number,
): Promise<{ scores: FitScores; pairs: number } | undefined> {
  const slots = [...all].filter(takesWork);
  if (slots.length < 2 || tasks.length === 0) return undefined;
  const pairs: Array<[Task, Slot]> = [];
  for (const t of tasks) {
    const capable = slots.filter((s) => missingCapability(s.agent, t.required_capabilities) === undefined);
    // Interchangeable agents only (a pool of one executor): nothing to choose, load decides.
    if (capable.length < 2 || capable.every((s) => s.profile === capable[0]!.profile)) continue;
    for (const s of capable) pairs.push([t, s]);
  }
  if (pairs.length === 0) return undefined;
  const x = new Float32Array(pairs.length * FIT_WIDTH);
  pairs.forEach(([t, s], i) =>
    writeFitFeatures(
      s.agent,
      fitCapabilities(t.required_capabilities, t.inferred_capabilities),
      queuedLoad(s, prefetch),
      x,
      i * FIT_WIDTH,
    ),
  );
  const p = await model.score(x, pairs.length);
  const scores: FitScores = new Map();
  pairs.forEach(([t, s], i) => {
    let m = scores.get(t);
    if (m === undefined) scores.set(t, (m = new Map<string, number>()));
    m.set(s.agent.id, p[i] ?? 0);
  });
  return { scores, pairs: pairs.length };
}
