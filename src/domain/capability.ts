import type { Agent, Capability } from './agent.js';
import type { RequiredCapability } from './task.js';

/** The first requirement the agent does not meet, or undefined when it meets all. */
export function missingCapability(
  agent: Pick<Agent, 'capabilities'>,
  required: readonly RequiredCapability[],
): RequiredCapability | undefined {
  return required.find((req) => {
    const cap = agent.capabilities.find((c) => c.name === req.name);
    return cap === undefined || cap.proficiency < req.min_proficiency;
  });
}

/**
 * How well an agent fits a task, 0..1: mean proficiency over the required
 * capabilities, weighted by success rate and discounted by current load.
 * An agent that misses a requirement scores 0.
 */
export function fitScore(
  agent: Pick<Agent, 'capabilities' | 'stats'>,
  required: readonly RequiredCapability[],
  load: { running: number; capacity: number },
): number {
  if (missingCapability(agent, required) !== undefined) return 0;
  const proficiency =
    required.length === 0
      ? 1
      : required.reduce(
          (sum, req) => sum + (agent.capabilities.find((c) => c.name === req.name)?.proficiency ?? 0),
          0,
        ) / required.length;
  const free = load.capacity <= 0 ? 0 : Math.max(0, 1 - load.running / load.capacity);
  return proficiency * (0.5 + 0.5 * agent.stats.success_rate) * (0.25 + 0.75 * free);
}

/**
 * Agents learn: after a task, each required capability the agent holds moves
 * towards 1 on success and towards 0 on failure by `rate` of the distance,
 * so proficiency stays within [0, 1].
 */
export function learn(
  capabilities: readonly Capability[],
  required: readonly RequiredCapability[],
  success: boolean,
  rate: number,
): Capability[] {
  const names = new Set(required.map((r) => r.name));
  return capabilities.map((c) => {
    if (!names.has(c.name)) return c;
    const p = success ? c.proficiency + rate * (1 - c.proficiency) : c.proficiency - rate * c.proficiency;
    return { name: c.name, proficiency: Math.min(1, Math.max(0, Math.round(p * 10_000) / 10_000)) };
  });
}
