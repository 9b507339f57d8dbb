/** The engine's figures: counters plus what the slots hold now. */
import { takesWork, type Slot } from './placement.js';
import type { EngineCounters, EngineStats } from './types.js';

export function engineStats(
  slots: Iterable<Slot>,
  c: EngineCounters,
  parts: Pick<EngineStats, 'flow' | 'workflows'> = {},
): EngineStats {
  let buffered = 0;
  let running = 0;
  let capacity = 0;
  const deques: Record<string, number> = {};
  for (const s of slots) {
    buffered += s.deque.length;
    running += s.running.size;
    if (takesWork(s)) capacity += s.agent.max_concurrency;
    deques[s.agent.name] = s.deque.length;
  }
  const { steals, steal_attempts, ...rest } = c;
  return {
    buffered,
    running,
    capacity,
    ...rest,
    work_stealing: { steals, attempts: steal_attempts, deques },
    ...parts,
  };
}
