/** Why flow rules hold tasks back, told when it changes: /ws (task.waiting) and the tasks' histories. */
import { flowWaiting, type KeyBlock } from '../domain/index.js';
import { errorMessage } from '../errors/index.js';
import type { EngineOptions } from './types.js';

/** Best effort: a note that is not stored loses no work (explain computes the reason afresh). */
export function tellWaits(o: EngineOptions, changed: ReadonlyArray<{ id: string; block: KeyBlock }>): void {
  const items = changed.map(({ id, block }) => {
    const until = block.until === undefined ? null : new Date(block.until).toISOString();
    return { id, waiting: { ...flowWaiting(block), key: block.key, until } };
  });
  for (const it of items) o.events.publish('tasks', 'task.waiting', it);
  void o.store
    .recordWaits(
      items.map((it) => ({ id: it.id, detail: { waiting: it.waiting } })),
      o.nodeId,
    )
    .catch((err: unknown) => o.log.warn({ err }, `recording why tasks wait failed: ${errorMessage(err)}`));
}
