/**
 * The engine's workflow parts (docs/workflows.md): the waker (waiting tasks
 * whose time came go back to pending, or time out), the scheduler (due ticks
 * of schedules fire), and progress. Every node runs both passes; the store
 * makes each wake and each tick happen once. A pass runs on the engine's
 * one-second sweep and, for what is due sooner, on a timer set to the exact time.
 */
import { changeEvent, parseNewTask, type BackoffPolicy, type Task, type TaskDefaults } from '../domain/index.js';
import type { EventBus } from '../runtime/index.js';
import type { Logger } from '../log/logger.js';
import type { OutageTracker, ScheduleBuild, ScheduleStore, WorkflowStore } from '../storage/index.js';
import { errorMessage } from '../errors/index.js';
import { ProgressRecorder } from './progress-recorder.js';
import type { AttemptSinks } from './execution.js';
import type { WorkflowCounts } from './types.js';

export interface WorkflowOptions {
  store: WorkflowStore & ScheduleStore;
  events: EventBus;
  log: Logger;
  nodeId: string;
  backoff: BackoffPolicy;
  outage: OutageTracker;
  taskDefaults: TaskDefaults;
  scheduleGraceMs: number;
  progress: { keep: number; chunkBytes: number; flushMs: number };
  /** Creates children of a task (through task_management); absent: spawn is refused. */
  spawn?: ((parentId: string, tasks: readonly unknown[]) => Promise<Task[]>) | undefined;
  /** Claims soon (something became pending). */
  wakeClaims: () => void;
}

/** Events for tasks a workflow step changed besides the one it was about (a woken parent, a cancelled child). */
export function publishChanged(events: EventBus, tasks: readonly Task[]): void {
  for (const t of tasks) events.publish('tasks', changeEvent(t), t);
}

/** A pass that runs at most once at a time, again on request, and on a timer when something is due within the second. */
class TimedPass {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private running = false;
  private again = false;

  constructor(
    private readonly run: () => Promise<string | undefined>,
    private readonly failed: (err: unknown) => void,
  ) {}

  async pass(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      this.arm(await this.run());
    } catch (err) {
      this.failed(err);
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        void this.pass();
      }
    }
  }

  /** Runs again at `at` if that is within the second (the sweep covers what is later). */
  arm(at: string | null | undefined): void {
    if (at === undefined || at === null) return;
    const due = Date.parse(at);
    if (due - Date.now() > 1000 || due >= this.timerAt) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = due;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        void this.pass();
      },
      Math.max(0, due - Date.now()),
    );
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

export class Workflows {
  readonly progress: ProgressRecorder;
  private readonly c = { woken: 0, wait_timeouts: 0, schedule_fired: 0, schedule_skipped: 0 };
  private readonly waker: TimedPass;
  private readonly scheduler: TimedPass;
  private readonly build: ScheduleBuild;

  constructor(private readonly o: WorkflowOptions) {
    this.progress = new ProgressRecorder({ ...o.progress, store: o.store, events: o.events, log: o.log });
    const failed = (what: string) => (err: unknown) => {
      if (o.outage.failed(err)) return;
      o.log.error({ event: `${what}.failed`, err }, `${what} pass failed: ${errorMessage(err)}`);
    };
    this.waker = new TimedPass(() => this.wakePass(), failed('waker'));
    this.scheduler = new TimedPass(() => this.schedulePass(), failed('scheduler'));
    this.build = (s) => this.buildTask(s);
  }

  /** A schedule's task from its template (a tick or a trigger). */
  buildTask(s: Parameters<ScheduleBuild>[0]): ReturnType<ScheduleBuild> {
    return parseNewTask(s.template, this.o.taskDefaults);
  }

  /** What attempts reach: progress and children. */
  readonly sinks: AttemptSinks = {
    progress: (task, n, report) => void this.progress.report(task, n, report),
    spawn: (parent, tasks) => {
      const spawn = this.o.spawn;
      if (spawn === undefined) return Promise.reject(new Error('this node cannot create child tasks'));
      return spawn(parent.id, tasks);
    },
  };

  /** The one-second sweep: both passes. */
  async tick(): Promise<void> {
    await Promise.all([this.waker.pass(), this.scheduler.pass()]);
  }

  /** A task of this node began to wait until `wakeAt`: the waker runs then. */
  waitsUntil(wakeAt: string | null): void {
    this.waker.arm(wakeAt);
  }

  /** A schedule was made or resumed: the scheduler runs at its first tick. */
  scheduled(nextRunAt: string | null): void {
    this.scheduler.arm(nextRunAt);
  }

  private async wakePass(): Promise<string | undefined> {
    // Most sweeps find nothing due: one indexed read, no write transaction.
    const next = await this.o.store.nextWakeAt();
    if (next === undefined || Date.parse(next) > Date.now()) return next;
    for (;;) {
      const out = await this.o.store.wakeDue(this.o.nodeId, 500, this.o.backoff);
      this.o.outage.ok();
      this.c.woken += out.woken.length;
      this.c.wait_timeouts += out.expired.length + out.woken.filter((t) => t.error?.code === 'WAIT_TIMEOUT').length;
      publishChanged(this.o.events, [...out.woken, ...out.expired, ...out.changed]);
      if (out.woken.length > 0 || out.changed.length > 0) this.o.wakeClaims();
      if (out.woken.length + out.expired.length < 500) break;
    }
    return this.o.store.nextWakeAt();
  }

  private async schedulePass(): Promise<string | undefined> {
    const next = await this.o.store.nextScheduleAt();
    if (next === undefined || Date.parse(next) > Date.now()) return next;
    const out = await this.o.store.fireSchedules(this.o.nodeId, new Date(), this.o.scheduleGraceMs, this.build);
    this.o.outage.ok();
    this.c.schedule_fired += out.fired.length;
    this.c.schedule_skipped += out.skipped.length;
    for (const f of out.fired) this.o.events.publish('tasks', 'task.created', f.task);
    for (const s of out.skipped)
      this.o.log.info(
        { event: 'schedule.skipped', schedule_id: s.schedule, tick: s.tick, reason: s.reason },
        `schedule ${s.schedule}: a tick was skipped (${s.reason})`,
      );
    if (out.fired.length > 0) this.o.wakeClaims();
    return this.o.store.nextScheduleAt();
  }

  counts(): WorkflowCounts {
    const p = this.progress.counts;
    return {
      ...this.c,
      progress_reported: p.reported,
      progress_stored: p.stored,
      progress_dropped: p.dropped,
    };
  }

  async stop(): Promise<void> {
    this.waker.stop();
    this.scheduler.stop();
    await this.progress.stop();
  }
}
