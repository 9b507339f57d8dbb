import type { Explanation, NewTask, Task, TaskStatus } from '../../src/domain/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import type { Page, TaskEvent, TaskFilter } from '../../src/storage/index.js';
import type { ModulePing } from '../../src/runtime/index.js';
import type { EngineStats } from '../../src/engine/types.js';
import type { FlowMsg } from './flow.js';
import type { WorkflowMsg } from './workflow.js';
import type { ViewMsg } from './views.js';

/** The queue as scaling and /health need it: reads whose cost follows the queue and the limits, not the table. */
export interface QueueFigures {
  /** Pending tasks, counted up to max_pending + 1. */
  pending: number;
  /** Tasks assigned or running. */
  in_flight: number;
  max_pending: number;
}

export interface TaskSummary {
  by_status: Record<TaskStatus, number>;
  queue_depth: number;
  max_pending: number;
  totals: { submitted: number; completed: number; failed: number; dead: number; cancelled: number };
  since_start: {
    submitted: number;
    deduplicated: number;
    cancelled: number;
    retried: number;
    redriven: number;
    manual_assignments: number;
  };
  tasks_per_second: number;
  average_task_ms: number;
  p50_task_ms: number;
  p99_task_ms: number;
  success_rate: number;
  runner: EngineStats;
}

export type TaskDetail = Task & { depends_on: string[]; events: TaskEvent[] };

export interface Submitted {
  task: Task;
  created: boolean;
}

export interface Redriven {
  tasks: Task[];
  redriven: number;
}

/** What one commit of submissions stored, counted beside the actor and applied by it (task.flushed). */
export interface SubmitTally {
  /** Pending tasks before the commit (the actor's estimate, or read by the commit: then `read` is set). */
  pending: number | undefined;
  read?: boolean;
  created: number;
  deduplicated: number;
}

/** Why a listed pending task waits: the code and sentence of its explanation. */
export type Waiting = Pick<Explanation, 'code' | 'message'>;

/** Commands to task_management; each replies on replyTo unless it is a notice. */
export type TaskManagementMsg =
  | FlowMsg
  | WorkflowMsg
  | ViewMsg
  | { type: 'task.submit'; task: NewTask; replyTo: ReplyTo<Submitted> }
  | { type: 'task.submit_bulk'; tasks: NewTask[]; replyTo: ReplyTo<Submitted[]> }
  /**
   * A group commit of submissions was stored (sent by the actor's own storing to itself):
   * how many were new and how many duplicates, and the pending count it read, if it read one.
   */
  | { type: 'task.flushed'; tally: SubmitTally }
  /** Pending tasks counted in the background (the actor's own refresh of its estimate; undefined: the read failed). */
  | { type: 'task.pending'; pending: number | undefined; at: number }
  | { type: 'task.get'; id: string; replyTo: ReplyTo<TaskDetail> }
  /** Why the task is not running (GET /api/tasks/:id/explain). */
  | { type: 'task.explain'; id: string; replyTo: ReplyTo<Explanation> }
  | { type: 'task.list'; filter: TaskFilter; replyTo: ReplyTo<Page<Task>> }
  /** The pending view: each task with why it waits. */
  | { type: 'task.list_waiting'; filter: TaskFilter; replyTo: ReplyTo<Page<Task & { waiting: Waiting }>> }
  | { type: 'task.cancel'; id: string; reason: string; replyTo: ReplyTo<Task> }
  | { type: 'task.retry'; id: string; replyTo: ReplyTo<Task> }
  /** Puts failed or dead tasks back to pending: the ids given, or the oldest `limit` with that status. */
  | {
      type: 'task.redrive';
      status: 'failed' | 'dead';
      ids: string[] | undefined;
      limit: number;
      replyTo: ReplyTo<Redriven>;
    }
  | { type: 'task.assign'; taskId: string; agentId: string; replyTo: ReplyTo<Task> }
  | { type: 'task.summarize'; replyTo: ReplyTo<TaskSummary> }
  | { type: 'task.queue'; replyTo: ReplyTo<QueueFigures> }
  /** What the engine stored (a notice): completions and failures for the rate and duration windows. */
  | { type: 'task.ended'; completed: number; failed: number; durationsMs: number[] }
  | ModulePing;
