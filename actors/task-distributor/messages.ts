import type { NewTask, Task, TaskStatus } from '../../src/domain/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import type { Page, TaskEvent, TaskFilter } from '../../src/storage/index.js';
import type { ModulePing } from '../shared/messages.js';

export interface TaskSummary {
  by_status: Record<TaskStatus, number>;
  queue_depth: number;
  max_pending: number;
  submitted_since_start: number;
  deduplicated_since_start: number;
  cancelled_since_start: number;
}

export interface TaskDetail {
  task: Task;
  events: TaskEvent[];
}

/** Commands to task_management; each replies on replyTo. */
export type TaskManagementMsg =
  | { type: 'task.submit'; task: NewTask; replyTo: ReplyTo<{ task: Task; created: boolean }> }
  | { type: 'task.get'; id: string; replyTo: ReplyTo<TaskDetail> }
  | { type: 'task.list'; filter: TaskFilter; replyTo: ReplyTo<Page<Task>> }
  | { type: 'task.cancel'; id: string; reason: string; replyTo: ReplyTo<Task> }
  | { type: 'task.summarize'; replyTo: ReplyTo<TaskSummary> }
  | ModulePing;
