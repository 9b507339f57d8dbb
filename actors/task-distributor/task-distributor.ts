/**
 * task_management: accepts, tracks and cancels tasks.
 * State: task counts by status, rebuilt from storage at every (re)start or reset,
 * plus counters since start. Every change is stored before the reply, so a
 * restart or reset never loses a task; the counts only bound the queue.
 * Accepts TaskManagementMsg.
 */
import { TERMINAL_STATUSES, isTerminal, sourcesOf, type NewTask, type Task, type TaskStatus } from '../../src/domain/index.js';
import { HubError, assertNever } from '../../src/errors/index.js';
import type { ActorSpec } from '../../src/runtime/index.js';
import type { ModuleDeps } from '../shared/deps.js';
import { answer } from '../shared/answer.js';
import type { TaskDetail, TaskManagementMsg, TaskSummary } from './messages.js';

interface State {
  counts: Record<TaskStatus, number>;
  submitted: number;
  deduplicated: number;
  cancelled: number;
}

async function submit(deps: ModuleDeps, state: State, task: NewTask): Promise<{ task: Task; created: boolean }> {
  const max = deps.config.tasks.max_pending;
  if (state.counts.pending >= max) {
    throw new HubError('QUEUE_FULL', `${state.counts.pending} tasks are pending ([tasks] max_pending = ${max}); retry later`, {
      details: { pending: state.counts.pending, max_pending: max },
    });
  }
  const result = await deps.store.createTask(task, deps.nodeId);
  if (result.created) {
    state.counts.pending++;
    state.submitted++;
    deps.log.debug({ event: 'task.created', task_id: result.task.id }, 'task submitted');
  } else {
    state.deduplicated++;
  }
  return result;
}

async function getTask(deps: ModuleDeps, id: string): Promise<Task> {
  const task = await deps.store.getTask(id);
  if (task === undefined) throw new HubError('TASK_NOT_FOUND', `no task with id ${id}`, { details: { task_id: id } });
  return task;
}

async function detail(deps: ModuleDeps, id: string): Promise<TaskDetail> {
  const task = await getTask(deps, id);
  return { task, events: await deps.store.listTaskEvents(id) };
}

async function cancel(deps: ModuleDeps, state: State, id: string, reason: string): Promise<Task> {
  const before = await getTask(deps, id);
  const refuse = (status: TaskStatus): HubError =>
    new HubError('INVALID_STATE', `task ${id} is ${status}; only tasks that have not ended can be cancelled`, { details: { task_id: id, status } });
  if (isTerminal(before.status)) throw refuse(before.status);
  const after = await deps.store.transitionTask(id, { from: sourcesOf('cancelled'), to: 'cancelled', nodeId: deps.nodeId, detail: { reason }, patch: { completed_at: new Date().toISOString() } });
  if (after === undefined) throw refuse((await getTask(deps, id)).status); // it ended meanwhile
  state.counts[before.status] = Math.max(0, state.counts[before.status] - 1);
  state.counts.cancelled++;
  state.cancelled++;
  deps.log.info({ event: 'task.cancelled', task_id: id, reason }, 'task cancelled');
  return after;
}

function summarize(deps: ModuleDeps, state: State): TaskSummary {
  return {
    by_status: { ...state.counts },
    queue_depth: state.counts.pending,
    max_pending: deps.config.tasks.max_pending,
    submitted_since_start: state.submitted,
    deduplicated_since_start: state.deduplicated,
    cancelled_since_start: state.cancelled,
  };
}

/** The task_management module actor. */
export function taskManagementSpec(deps: ModuleDeps): ActorSpec<TaskManagementMsg, State> {
  return {
    name: 'task_management',
    init: async () => ({ counts: await deps.store.countTasksByStatus(), submitted: 0, deduplicated: 0, cancelled: 0 }),
    receive: async (state, msg) => {
      switch (msg.type) {
        case 'task.submit':
          await answer(msg.replyTo, () => submit(deps, state, msg.task));
          return state;
        case 'task.get':
          await answer(msg.replyTo, () => detail(deps, msg.id));
          return state;
        case 'task.list':
          await answer(msg.replyTo, () => deps.store.listTasks(msg.filter));
          return state;
        case 'task.cancel':
          await answer(msg.replyTo, () => cancel(deps, state, msg.id, msg.reason));
          return state;
        case 'task.summarize':
          msg.replyTo.ok(summarize(deps, state));
          return state;
        case 'module.ping':
          msg.replyTo.ok(true);
          return state;
        default:
          return assertNever(msg);
      }
    },
  };
}

export { TERMINAL_STATUSES };
