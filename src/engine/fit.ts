/** Placement by the neural fit model: P(success) for every (task, capable agent) pair of a claimed batch, in one inference. */
import { fitScore, missingCapability, type Task } from '../domain/index.js';
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

/** One agent of this node as placement sees it for a task (GET /api/tasks/:id/fit). */
export interface FitRow {
  agent_id: string;
  name: string;
  kind: string;
  takes_work: boolean;
  /** The first required capability it lacks (or holds below the minimum); null when capable. */
  missing: string | null;
  /** The declared score placement uses without the model: proficiency × success rate × free capacity. */
  declared: number;
  /** The fit model's P(success); null without a model (or when the model failed). */
  model: number | null;
  load: { running: number; capacity: number };
}

/** Every agent's fit for one task, best first: what the claim would weigh if it placed the task now. */
export async function fitReport(
  model: FitModel | undefined,
  all: Iterable<Slot>,
  task: Task,
  prefetch: number,
): Promise<FitRow[]> {
  const slots = [...all];
  const caps = fitCapabilities(task.required_capabilities, task.inferred_capabilities);
  let p: Float32Array | undefined;
  if (model !== undefined && slots.length > 0) {
    const x = new Float32Array(slots.length * FIT_WIDTH);
    slots.forEach((s, i) => writeFitFeatures(s.agent, caps, queuedLoad(s, prefetch), x, i * FIT_WIDTH));
    p = await model.score(x, slots.length).catch(() => undefined);
  }
  const rows = slots.map((s, i): FitRow => {
    const load = queuedLoad(s, prefetch);
    const missing = missingCapability(s.agent, task.required_capabilities);
    return {
      agent_id: s.agent.id,
      name: s.agent.name,
      kind: s.agent.kind,
      takes_work: takesWork(s),
      missing: missing === undefined ? null : missing.name,
      declared: Math.round(fitScore(s.agent, task.required_capabilities, load) * 1e4) / 1e4,
      model: p === undefined || missing !== undefined ? null : Math.round((p[i] ?? 0) * 1e4) / 1e4,
      load,
    };
  });
  const rank = (r: FitRow): number => (r.missing === null ? 1 + (r.model ?? r.declared) : 0);
  return rows.sort((a, b) => rank(b) - rank(a));
}
