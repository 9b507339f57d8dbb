/** Workflows in storage (docs/workflows.md): waits and wakes, signals, children, progress. */
import type {
  BackoffPolicy,
  NewSchedule,
  NewTask,
  ProgressRecord,
  Schedule,
  Task,
  TaskStatus,
} from '../domain/index.js';

/** A signal as delivered (POST /api/tasks/:id/signal, approve, reject, gRPC SignalTask). */
export interface SignalInput {
  name: string;
  payload: unknown;
  /** Who sent it (a principal's name), for the record. */
  sentBy: string | null;
}

export type SignalOutcome =
  | { outcome: 'not_found' }
  | { outcome: 'ended'; status: TaskStatus }
  /** Stored; `woke`: the task was waiting for it and is pending again (or failed: a rejected approval). */
  | { outcome: 'stored'; task: Task; woke: boolean; changed: Task[] };

/** One node of GET /api/tasks/:id/tree. */
export interface TaskTreeNode {
  id: string;
  title: string;
  status: TaskStatus;
  wait_for: Task['wait_for'];
  children: TaskTreeNode[];
}

/** What a wake pass did: tasks woken (pending again), and tasks whose wait timed out on their last attempt (dead). */
export interface WakeOutcome {
  woken: Task[];
  expired: Task[];
  /** What followed the expiries: their open children and dependants cancelled, their parents woken or failed. */
  changed: Task[];
}

export interface WorkflowStore {
  /**
   * Wakes waiting tasks whose time came (any node may run it; each wake happens
   * once): a timer's task goes back to pending; a wait that timed out counts as
   * a failed attempt (WAIT_TIMEOUT): pending again after the backoff while
   * attempts last, dead otherwise.
   */
  wakeDue(nodeId: string, limit: number, backoff: BackoffPolicy): Promise<WakeOutcome>;
  /** The earliest wake_at of any waiting task (ISO 8601), or undefined. */
  nextWakeAt(): Promise<string | undefined>;
  /** Delivers a signal: stored, and wakes the task if it waits for that name; kept for later otherwise. */
  signalTask(id: string, signal: SignalInput, nodeId: string): Promise<SignalOutcome>;
  /** Cancels the children of these tasks (and theirs) that have not ended; returns them. */
  cancelChildren(ids: readonly string[], reason: string, nodeId: string): Promise<Task[]>;
  /** The task and its descendants (at most `limit` nodes, breadth first); undefined when the task is missing. */
  taskTree(id: string, limit: number): Promise<{ tree: TaskTreeNode; truncated: boolean } | undefined>;
  /** Stores progress records in one transaction, keeping each task's last `keep`; records of unknown tasks are dropped. */
  recordProgress(records: readonly ProgressRecord[], keep: number): Promise<number>;
  /** A task's stored progress records, oldest first, after `afterSeq`. */
  listProgress(taskId: string, afterSeq: number, limit: number): Promise<ProgressRecord[]>;
  /** How many tasks wait, by what they wait for (timer, signal, approval, children). */
  countWaiting(): Promise<Record<string, number>>;
}

/** Schedules (POST /api/schedules): stored, and fired by whichever node claims a due tick first. */
export interface ScheduleStore {
  /** CONFLICT when the name is taken. */
  createSchedule(s: NewSchedule, nextRunAt: string | null): Promise<Schedule>;
  /** By id or by name. */
  getSchedule(ref: string): Promise<Schedule | undefined>;
  listSchedules(): Promise<Schedule[]>;
  /** Pauses (next_run_at kept) or resumes (next_run_at recomputed from now, missed ticks not fired). */
  setSchedulePaused(id: string, paused: boolean, nextRunAt: string | null): Promise<Schedule | undefined>;
  deleteSchedule(id: string): Promise<boolean>;
  /**
   * Fires the due ticks of due schedules (each schedule's row is claimed in the
   * transaction, so a tick fires on one node only; each task's idempotency key
   * names its tick besides). `build` makes a tick's task from the template.
   */
  fireSchedules(nodeId: string, now: Date, graceMs: number, build: ScheduleBuild): Promise<FiredTicks>;
  /** One tick now, by request (trigger): the overlap policy applies. */
  triggerSchedule(
    id: string,
    nodeId: string,
    build: ScheduleBuild,
  ): Promise<{ schedule: Schedule; task: Task | null } | undefined>;
  /** The earliest next_run_at of an active schedule. */
  nextScheduleAt(): Promise<string | undefined>;
}

export type ScheduleBuild = (s: Schedule, tick: Date) => NewTask;

export interface FiredTicks {
  fired: Array<{ schedule: string; tick: string; task: Task }>;
  skipped: Array<{ schedule: string; tick: string | null; reason: 'overlap' | 'missed' }>;
}
