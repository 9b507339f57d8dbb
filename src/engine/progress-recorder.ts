/**
 * Progress of running tasks: each report is checked, numbered (its attempt's
 * claim epoch orders attempts), streamed at once to observers (event
 * task.progress on topic tasks, which /ws and WatchTasks carry, on every node),
 * and stored in batches at most [workflows] progress_flush_ms apart, the last
 * progress_keep records of a task kept. Progress is informational: a batch the
 * database refuses while it is away waits, bounded; the oldest go first.
 */
import {
  PROGRESS_PER_ATTEMPT,
  parseProgress,
  type ProgressRecord,
  type ProgressReport,
  type Task,
} from '../domain/index.js';
import type { EventBus } from '../runtime/index.js';
import type { Logger } from '../log/logger.js';
import type { WorkflowStore } from '../storage/index.js';
import { errorMessage, isOutage } from '../errors/index.js';

/** Most records held for storing (a database outage); beyond it the oldest are dropped and counted. */
const MAX_BUFFERED = 20_000;

export interface ProgressOptions {
  store: Pick<WorkflowStore, 'recordProgress'>;
  events: EventBus;
  log: Logger;
  keep: number;
  chunkBytes: number;
  flushMs: number;
}

export class ProgressRecorder {
  private buffer: ProgressRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing = false;
  readonly counts = { reported: 0, stored: 0, dropped: 0 };

  constructor(private readonly o: ProgressOptions) {}

  /** Report number `n` of the running attempt of `task`; throws VALIDATION_FAILED for a bad one (nothing recorded). */
  report(task: Pick<Task, 'id' | 'lease_epoch'>, n: number, report: Partial<ProgressReport>): ProgressRecord {
    const checked = parseProgress(report, { chunkBytes: this.o.chunkBytes });
    const record: ProgressRecord = {
      task_id: task.id,
      seq: task.lease_epoch * PROGRESS_PER_ATTEMPT + Math.min(n, PROGRESS_PER_ATTEMPT - 1),
      ...checked,
      at: new Date().toISOString(),
    };
    this.counts.reported++;
    this.o.events.publish('tasks', 'task.progress', record);
    this.buffer.push(record);
    if (this.buffer.length > MAX_BUFFERED)
      this.counts.dropped += this.buffer.splice(0, this.buffer.length - MAX_BUFFERED).length;
    this.timer ??= setTimeout(() => void this.flush(), this.o.flushMs);
    return record;
  }

  /** Stores what is buffered (also at a stop). */
  async flush(): Promise<void> {
    this.timer = undefined;
    if (this.flushing || this.buffer.length === 0) return;
    this.flushing = true;
    const batch = this.buffer.splice(0, 2000);
    try {
      await this.o.store.recordProgress(batch, this.o.keep);
      this.counts.stored += batch.length;
    } catch (err) {
      this.buffer.unshift(...batch);
      if (!isOutage(err)) {
        this.counts.dropped += this.buffer.splice(0, batch.length).length;
        this.o.log.warn({ event: 'progress.refused', err }, `storing progress failed: ${errorMessage(err)}`);
      }
    } finally {
      this.flushing = false;
      if (this.buffer.length > 0) this.timer ??= setTimeout(() => void this.flush(), this.o.flushMs);
    }
  }

  stop(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    return this.flush();
  }
}
