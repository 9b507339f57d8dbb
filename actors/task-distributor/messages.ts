import type { NewTask, Task, TaskStatus } from '../../src/domain/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import type { Page, TaskEvent, TaskFilter } from '../../src/storage/index.js';
import type { TaskDone } from '../agent/messages.js';
import type { ModulePing } from '../shared/messages.js';

export interface TaskSummary {
  by_status: Record<TaskStatus, number>;
  queue_depth: number;
  max_pending: number;
  totals: { submitted: number; completed: number; failed: number; dead: number; cancelled: number };
  since_start: {
    submitted: number;
    deduplicated: number;
    assigned: number;
    completed: number;
    failed: number;
    cancelled: number;
    requeued: number;
    retried: number;
  };
  tasks_per_second: number;
  average_task_ms: number;
  p99_task_ms: number;
  success_rate: number;
  distribution: { dispatch_rounds: number; assignments: number; manual_assignments: number; unmatched_skips: number; stale_dispatches: number; lease_expiries: number };
}

export type TaskDetail = Task & { events: TaskEvent[] };

export interface Submitted {
  task: Task;
  created: boolean;
}

/** Commands to task_management; each replies on replyTo unless it is a notice. */
export type TaskManagementMsg =
  | { type: 'task.submit'; task: NewTask; replyTo: ReplyTo<Submitted> }
  | { type: 'task.submit_bulk'; tasks: NewTask[]; replyTo: ReplyTo<Submitted[]> }
  | { type: 'task.get'; id: string; replyTo: ReplyTo<TaskDetail> }
  | { type: 'task.list'; filter: TaskFilter; replyTo: ReplyTo<Page<Task>> }
  | { type: 'task.cancel'; id: string; reason: string; replyTo: ReplyTo<Task> }
  | { type: 'task.retry'; id: string; replyTo: ReplyTo<Task> }
  | { type: 'task.assign'; taskId: string; agentId: string; replyTo: ReplyTo<Task> }
  | { type: 'task.summarize'; replyTo: ReplyTo<TaskSummary> }
  /** Runs a dispatch round: hands ready tasks to agents with free slots. */
  | { type: 'task.dispatch' }
  /** A task left an agent (notice from agent_management). */
  | { type: 'task.finished'; done: TaskDone }
  /** Periodic: requeues expired leases and dispatches delayed tasks that came due. */
  | { type: 'task.tick' }
  /** Shutdown: hand out no more tasks (running ones finish). */
  | { type: 'task.stop_dispatch' }
  | ModulePing;
