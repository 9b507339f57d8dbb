import { newTaskId } from './ids.js';
import { invalid } from './validate.js';
import type { NewTask } from './task.js';

const KEY = /^[A-Za-z0-9_.-]{1,64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Plans a bulk submission whose items may depend on each other by `key`: gives
 * every item an id, turns key references into ids, refuses unknown keys and
 * cycles (naming the items), and orders the items so that each comes after what
 * it depends on and after its parent (`parent_id` may also name an item's key). Returns the insertion order (indexes into `items`).
 */
export function planBulk(items: NewTask[], keys: ReadonlyArray<string | undefined>): number[] {
  const byKey = new Map<string, number>();
  keys.forEach((k, i) => {
    if (k === undefined) return;
    if (!KEY.test(k)) throw invalid(`tasks[${i}].key`, 'expected 1 to 64 letters, digits, _ . -');
    if (byKey.has(k))
      throw invalid(`tasks[${i}].key`, `duplicate key ${JSON.stringify(k)} (also tasks[${byKey.get(k)}])`);
    byKey.set(k, i);
  });
  for (const t of items) t.id ??= newTaskId();
  const edges: number[][] = items.map(() => []);
  items.forEach((t, i) => {
    t.depends_on = t.depends_on.map((ref, j) => {
      const target = byKey.get(ref);
      if (target !== undefined) {
        edges[i]?.push(target);
        return items[target]?.id ?? ref;
      }
      if (!UUID.test(ref))
        throw invalid(
          `tasks[${i}].depends_on[${j}]`,
          `${JSON.stringify(ref)} is neither a task id nor the key of another item`,
        );
      return ref;
    });
    t.parent_id = parentOf(t.parent_id ?? null, i, byKey, items, edges);
  });
  return topologicalOrder(edges, keys);
}

/** An item's parent: another item's key (its id, stored first) or a task id. */
function parentOf(
  ref: string | null,
  i: number,
  byKey: ReadonlyMap<string, number>,
  items: readonly NewTask[],
  edges: number[][],
): string | null {
  if (ref === null) return null;
  const target = byKey.get(ref);
  if (target === i) throw invalid(`tasks[${i}].parent_id`, 'a task cannot be its own parent');
  if (target !== undefined) {
    edges[i]?.push(target);
    return items[target]?.id ?? ref;
  }
  if (!UUID.test(ref))
    throw invalid(`tasks[${i}].parent_id`, `${JSON.stringify(ref)} is neither a task id nor the key of another item`);
  return ref;
}

/** Depth-first order (dependencies first); a cycle fails naming its path. */
function topologicalOrder(edges: number[][], keys: ReadonlyArray<string | undefined>): number[] {
  const state = edges.map(() => 0); // 0 new, 1 visiting, 2 done
  const order: number[] = [];
  const name = (i: number): string => keys[i] ?? `tasks[${i}]`;
  const visit = (i: number, path: number[]): void => {
    if (state[i] === 2) return;
    if (state[i] === 1) {
      const cycle = [...path.slice(path.indexOf(i)), i].map(name).join(' -> ');
      throw invalid(`tasks[${i}].depends_on`, `dependency cycle: ${cycle}`);
    }
    state[i] = 1;
    for (const d of edges[i] ?? []) visit(d, [...path, i]);
    state[i] = 2;
    order.push(i);
  };
  edges.forEach((_, i) => visit(i, []));
  return order;
}
