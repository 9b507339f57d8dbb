/**
 * Retention: records past an age deleted now and then hourly, on every node
 * (a delete is idempotent, and rows another node is deleting are skipped).
 * Used by the audit log ([security] audit_retention_days) and by finished tasks
 * ([tasks] retention_days).
 */
import { errorMessage } from '../errors/index.js';
import type { Logger } from '../log/logger.js';

export interface Pruning {
  /** 0 keeps everything (no timer). */
  days: number;
  /** Deletes what is older than `before` (ISO time); returns how many. */
  prune(before: string): Promise<number>;
  log: Logger;
  /** The log event of a prune that deleted something; the module and what it deletes (for the message). */
  event: string;
  module: string;
  what: string;
}

const HOUR_MS = 3_600_000;

/** Deletes in batches of `batch` until a batch comes back short, yielding between them (a prune never holds the database long). */
export async function inBatches(deleteSome: (limit: number) => Promise<number>, batch: number): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await deleteSome(batch);
    total += n;
    if (n < batch) return total;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Prunes now, then every hour; returns the stop. */
export function keepPruning(p: Pruning): () => void {
  if (p.days === 0) return () => undefined;
  const prune = (): void =>
    void p.prune(new Date(Date.now() - p.days * 86_400_000).toISOString()).then(
      (n) =>
        n > 0 &&
        p.log.info(
          { module: p.module, event: p.event, count: n },
          `${p.module}: ${n} ${p.what} older than ${p.days} days deleted`,
        ),
      (err: unknown) =>
        p.log.warn({ err, module: p.module }, `${p.module}: deleting ${p.what} failed: ${errorMessage(err)}`),
    );
  prune();
  const timer = setInterval(prune, HOUR_MS);
  timer.unref();
  return () => clearInterval(timer);
}
