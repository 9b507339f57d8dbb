import { isOutage, toHubError, type HubError } from '../errors/index.js';

/** What writeIsolating did: the parts written (with what each write returned), and what an outage left unwritten. */
export interface IsolatedWrite<T, R> {
  parts: Array<{ items: T[]; result: R }>;
  /** Items not written because the database went away meanwhile (retry them whole), with that error. */
  unwritten: { items: T[]; err: HubError } | undefined;
}

/**
 * Writes `items` as one batch. When the batch fails for a reason that is not an
 * outage (a value the database refuses, a constraint), it is split in halves until
 * the failing items stand alone: each of those goes to `onPoison` with its error,
 * and every other item is written. An outage stops the splitting: what was not yet
 * written is returned as `unwritten`. A clean batch costs one write; k poisoned
 * items cost about 2·k·log2(n) more.
 */
export async function writeIsolating<T, R>(
  items: readonly T[],
  write: (batch: T[]) => Promise<R>,
  onPoison: (item: T, err: HubError) => void,
): Promise<IsolatedWrite<T, R>> {
  const out: IsolatedWrite<T, R> = { parts: [], unwritten: undefined };
  const pending: T[][] = [[...items]];
  while (pending.length > 0) {
    const batch = pending.shift()!;
    if (batch.length === 0) continue;
    try {
      out.parts.push({ items: batch, result: await write(batch) });
    } catch (err) {
      if (isOutage(err)) {
        out.unwritten = { items: [batch, ...pending].flat(), err: toHubError(err) };
        return out;
      }
      if (batch.length === 1) onPoison(batch[0] as T, toHubError(err));
      else pending.unshift(batch.slice(0, Math.ceil(batch.length / 2)), batch.slice(Math.ceil(batch.length / 2)));
    }
  }
  return out;
}
