/**
 * The group-commit writer: starts and ends of attempts are stored in batches,
 * one transaction per short window, never a round trip per task. A task that
 * ends soon after it started is stored once, as ended; a longer one gets its
 * start stored after START_DELAY_MS. An end the database refuses on its own
 * account becomes a failed attempt; an outage keeps everything in memory and
 * retries with backoff (bounded: claims pause meanwhile).
 */
import type { HubError } from '../errors/index.js';
import type { BackoffPolicy } from '../domain/index.js';
import type { Logger } from '../log/logger.js';
import type { EventBus } from '../runtime/index.js';
import {
  writeIsolating,
  type FinishOutcome,
  type OutageTracker,
  type TaskStore,
  type TaskStart,
} from '../storage/index.js';
import { RunControl, type Outcome } from './execute.js';
import { finishFor, nowIso, type Running } from './execution.js';
import { publishEnds, type PendingFinish } from './outcomes.js';
import { publishChanged } from './workflows.js';
import type { AgentOutcome, EngineCounters } from './types.js';
import type { FitSample } from '../neural/fit-features.js';

/** A task still running this long after it started gets its start stored on its own (shorter ones are stored once, as ended). */
const START_DELAY_MS = 50;

export interface WriterOptions {
  store: TaskStore;
  events: EventBus;
  log: Logger;
  nodeId: string;
  flushWindowMs: number;
  flushMax: number;
  backoff: BackoffPolicy;
  counters: EngineCounters;
  outage: OutageTracker;
}

/** What the writer needs of the engine: the running attempt of a task, a word after each stored batch, and its supervision. */
export interface WriterHost {
  running(taskId: string): Running | undefined;
  /** `suspended`: the wake times of the attempts that ended waiting. */
  stored(batch: {
    outcomes: AgentOutcome[];
    samples: FitSample[];
    completed: boolean;
    suspended: Array<string | null>;
  }): void;
  /** Storing failed for a reason other than an outage: the writer is halted until the engine module restarts it. */
  fault(err: unknown): void;
  halted(): boolean;
}

export class TaskWriter {
  private readonly starts = new Map<string, { start: TaskStart; perf: number }>();
  private startTimer: NodeJS.Timeout | undefined;
  private finishes: PendingFinish[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly o: WriterOptions,
    private readonly host: WriterHost,
  ) {}

  /** An attempt started: its start is stored with its end, or on its own if it runs longer than START_DELAY_MS. */
  started(r: Running): void {
    this.starts.set(r.task.id, {
      start: { id: r.task.id, epoch: r.task.lease_epoch, agentId: r.agentId, startedAt: r.startedAt },
      perf: r.startedPerf,
    });
    this.startTimer ??= setTimeout(() => {
      this.startTimer = undefined;
      void this.flushNow();
    }, START_DELAY_MS);
  }

  /** An attempt ended: its end waits for the next group commit. */
  ended(r: Running, outcome: Outcome): void {
    const finish = finishFor(r, outcome, this.o.backoff);
    if (finish === undefined) return;
    this.finishes.push({
      finish,
      task: r.task,
      agentId: r.agentId,
      outcome,
      durationMs: performance.now() - r.startedPerf,
      fit: r.fit,
    });
    this.scheduleFlush();
  }

  /** Ends waiting to be stored. */
  get waiting(): number {
    return this.finishes.length;
  }

  private scheduleFlush(): void {
    if (this.finishes.length >= this.o.flushMax) {
      if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      void this.flushNow();
      return;
    }
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      void this.flushNow();
    }, this.o.flushWindowMs);
  }

  /** Stores what is waiting; one flush at a time, the next one picks up what arrived meanwhile. */
  async flushNow(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    if (this.host.halted() || (this.starts.size === 0 && this.finishes.length === 0)) return;
    this.flushing = this.flush().finally(() => (this.flushing = undefined));
    await this.flushing;
    if (this.finishes.length > 0) this.scheduleFlush();
    if (this.starts.size > 0) {
      this.startTimer ??= setTimeout(() => {
        this.startTimer = undefined;
        void this.flushNow();
      }, START_DELAY_MS);
    }
  }

  /** Starts to store now: tasks still running after START_DELAY_MS (ended ones are stored with their end). */
  private dueStarts(): TaskStart[] {
    const ending = new Set(this.finishes.map((f) => f.finish.id));
    const now = performance.now();
    const due: TaskStart[] = [];
    for (const [id, s] of this.starts) if (!ending.has(id) && now - s.perf >= START_DELAY_MS) due.push(s.start);
    return due;
  }

  private async flush(): Promise<void> {
    const starts = this.dueStarts();
    const finishes = this.finishes.splice(0, this.o.flushMax);
    try {
      const startedIds = await this.storeStarts(starts);
      for (const st of starts) this.starts.delete(st.id);
      const { stored, out } = await this.storeFinishes(finishes);
      this.o.outage.ok();
      if (stored.length > 0) this.o.counters.flushes++;
      this.publishStarts(startedIds);
      // Ends whose start was never stored on its own: their start is published with them, in lifecycle order.
      const coalesced = new Set(stored.filter((f) => this.starts.delete(f.finish.id)).map((f) => f.finish.id));
      const ended = publishEnds(
        this.o.events,
        this.o.counters,
        stored,
        new Set(out.applied.map((a) => a.id)),
        coalesced,
      );
      this.reportStale(out.stale);
      for (const t of out.cascaded) this.o.events.publish('tasks', 'task.cancelled', t);
      publishChanged(this.o.events, out.changed);
      const suspended = stored.filter((f) => f.finish.status === 'waiting').map((f) => f.finish.wait?.wake_at ?? null);
      // Dependants may be ready after a completion (or woken parents, or a wait that ended at once).
      this.host.stored({
        ...ended,
        completed: out.applied.some((a) => a.status === 'completed') || out.changed.length > 0,
        suspended,
      });
    } catch (err) {
      // Nothing is dropped: the batch goes back to the front and is tried again (bounded: claims pause meanwhile).
      this.finishes.unshift(...finishes);
      if (this.o.outage.failed(err)) await new Promise((r) => setTimeout(r, this.o.outage.delayMs()));
      else this.host.fault(err);
    }
  }

  private reportStale(stale: readonly string[]): void {
    this.o.counters.stale_finishes += stale.length;
    if (stale.length > 0)
      this.o.log.warn(
        { event: 'task.stale_finish', count: stale.length, task_ids: stale.slice(0, 10) },
        `${stale.length} task ends refused: the tasks had moved on (lease expired, cancelled or claimed again)`,
      );
  }

  /** Stores starts in one statement; one the database refuses is logged and dropped (the task's end is stored anyway). */
  private async storeStarts(starts: TaskStart[]): Promise<string[]> {
    if (starts.length === 0) return [];
    const written = await writeIsolating(
      starts,
      (part) => this.o.store.startTasks(part),
      (st, err) => {
        this.starts.delete(st.id);
        this.o.log.error(
          { event: 'task.start_refused', task_id: st.id, err },
          `the database refused the start of task ${st.id} (its neighbours were stored): ${err.message}`,
        );
      },
    );
    if (written.unwritten !== undefined) throw written.unwritten.err;
    return written.parts.flatMap((p) => p.result);
  }

  /**
   * Stores ends in one statement; an end the database refuses on its own account
   * (a result it cannot hold) is replaced by a failed attempt, and its neighbours
   * are stored. An outage midway puts what was not stored back at the front, and
   * throws so the caller waits.
   */
  private async storeFinishes(finishes: PendingFinish[]): Promise<{ stored: PendingFinish[]; out: FinishOutcome }> {
    const out: FinishOutcome = { applied: [], stale: [], cascaded: [], changed: [] };
    if (finishes.length === 0) return { stored: [], out };
    const replaced: PendingFinish[] = [];
    const written = await writeIsolating(
      finishes,
      (part) =>
        this.o.store.finishTasks(
          part.map((f) => f.finish),
          this.o.nodeId,
        ),
      (f, err) => {
        const r = this.refused(f, err);
        if (r !== undefined) replaced.push(r);
      },
    );
    // Nothing stored before the outage: the caller puts the whole batch back (the refused ones are found again).
    if (written.unwritten !== undefined && written.parts.length === 0) throw written.unwritten.err;
    this.finishes.unshift(...replaced, ...(written.unwritten?.items ?? []));
    for (const p of written.parts) {
      out.applied.push(...p.result.applied);
      out.stale.push(...p.result.stale);
      out.cascaded.push(...p.result.cascaded);
      out.changed.push(...p.result.changed);
    }
    return { stored: written.parts.flatMap((p) => p.items), out };
  }

  /** The end to store instead of one the database refused: a failed attempt with RESULT_UNSTORABLE, under the task's retry policy. */
  private refused(f: PendingFinish, err: HubError): PendingFinish | undefined {
    this.o.log.error(
      { event: 'task.end_refused', task_id: f.task.id, agent_id: f.agentId, err },
      `the database refused the end of task ${f.task.id} (its neighbours were stored): ${err.message}`,
    );
    if (f.replacesRefused === true) return undefined; // refused twice: its lease runs out and it is requeued
    const outcome: Outcome = {
      kind: 'failed',
      error: {
        code: 'RESULT_UNSTORABLE',
        message: `the database refused this attempt's end: ${err.message}`.replaceAll('\u0000', ''),
        retryable: true,
      },
    };
    const attempt: Running = {
      task: f.task,
      agentId: f.agentId,
      control: new RunControl(),
      startedAt: f.finish.startedAt ?? nowIso(),
      startedPerf: 0,
    };
    const finish = finishFor(attempt, outcome, this.o.backoff);
    return finish === undefined ? undefined : { ...f, finish, outcome, replacesRefused: true };
  }

  /** Starts stored on their own (long tasks); coalesced ones are published with their ends, in lifecycle order. */
  private publishStarts(startedIds: string[]): void {
    for (const id of startedIds) {
      const r = this.host.running(id);
      this.o.events.publish(
        'tasks',
        'task.started',
        r !== undefined ? { ...r.task, status: 'running', started_at: r.startedAt } : { id, status: 'running' },
      );
    }
  }
}
