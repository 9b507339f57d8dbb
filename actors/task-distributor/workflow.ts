/** task_management's workflow operations (docs/workflows.md): signals and approvals, trees, progress, schedules. */
import {
  APPROVAL_SIGNAL,
  changeEvent,
  nextTick,
  scheduleKey,
  type NewSchedule,
  type ProgressRecord,
  type Schedule,
  type Task,
} from '../../src/domain/index.js';
import { HubError } from '../../src/errors/index.js';
import type { TaskTreeNode } from '../../src/storage/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import type { ModuleDeps } from '../shared/deps.js';

/** Who sent a signal or decided an approval, for the record (the audit log keeps approvals). */
export interface Sender {
  name: string | null;
  ip: string | null;
}

export type WorkflowMsg =
  | { type: 'task.signal'; id: string; name: string; payload: unknown; from: Sender; replyTo: ReplyTo<Task> }
  | {
      type: 'task.decide';
      id: string;
      approved: boolean;
      reason: string | null;
      from: Sender;
      replyTo: ReplyTo<Task>;
    }
  | { type: 'task.tree'; id: string; limit: number; replyTo: ReplyTo<{ tree: TaskTreeNode; truncated: boolean }> }
  | { type: 'task.progress'; id: string; after: number; limit: number; replyTo: ReplyTo<ProgressRecord[]> }
  | { type: 'schedule.create'; schedule: NewSchedule; replyTo: ReplyTo<Schedule> }
  | { type: 'schedule.list'; replyTo: ReplyTo<Schedule[]> }
  | { type: 'schedule.get'; ref: string; replyTo: ReplyTo<Schedule> }
  | { type: 'schedule.pause'; ref: string; paused: boolean; replyTo: ReplyTo<Schedule> }
  | { type: 'schedule.trigger'; ref: string; replyTo: ReplyTo<{ schedule: Schedule; task: Task | null }> }
  | { type: 'schedule.delete'; ref: string; replyTo: ReplyTo<{ deleted: string }> };

export const WORKFLOW_MSGS = [
  'task.signal',
  'task.decide',
  'task.tree',
  'task.progress',
  'schedule.create',
  'schedule.list',
  'schedule.get',
  'schedule.pause',
  'schedule.trigger',
  'schedule.delete',
] as const;

export function isWorkflowMsg(msg: { type: string }): msg is WorkflowMsg {
  return (WORKFLOW_MSGS as readonly string[]).includes(msg.type);
}

// size: one case per message type.
export async function serveWorkflow(deps: ModuleDeps, msg: WorkflowMsg): Promise<void> {
  const reply = msg.replyTo as ReplyTo<unknown>;
  try {
    switch (msg.type) {
      case 'task.signal':
        return reply.ok(await signal(deps, msg.id, msg.name, msg.payload, msg.from));
      case 'task.decide':
        return reply.ok(await decide(deps, msg.id, msg.approved, msg.reason, msg.from));
      case 'task.tree': {
        const tree = await deps.store.taskTree(msg.id, msg.limit);
        if (tree === undefined) throw notFound(msg.id);
        return reply.ok(tree);
      }
      case 'task.progress':
        if ((await deps.store.getTask(msg.id)) === undefined) throw notFound(msg.id);
        return reply.ok(await deps.store.listProgress(msg.id, msg.after, msg.limit));
      case 'schedule.create':
        return reply.ok(await createSchedule(deps, msg.schedule));
      case 'schedule.list':
        return reply.ok(await deps.store.listSchedules());
      case 'schedule.get':
        return reply.ok(await scheduleOf(deps, msg.ref));
      case 'schedule.pause':
        return reply.ok(await pause(deps, msg.ref, msg.paused));
      case 'schedule.trigger':
        return reply.ok(await trigger(deps, msg.ref));
      case 'schedule.delete': {
        const s = await scheduleOf(deps, msg.ref);
        await deps.store.deleteSchedule(s.id);
        deps.log.info({ event: 'schedule.deleted', schedule_id: s.id }, `schedule ${s.name} deleted`);
        return reply.ok({ deleted: s.id });
      }
    }
  } catch (err) {
    reply.fail(err);
  }
}

function notFound(id: string): HubError {
  return new HubError('TASK_NOT_FOUND', `no task with id ${id}`, { details: { task_id: id } });
}

async function signal(deps: ModuleDeps, id: string, name: string, payload: unknown, from: Sender): Promise<Task> {
  const out = await deps.store.signalTask(id, { name, payload, sentBy: from.name }, deps.nodeId);
  if (out.outcome === 'not_found') throw notFound(id);
  if (out.outcome === 'ended')
    throw new HubError('INVALID_STATE', `task ${id} already ended ${out.status}; it takes no more signals`, {
      details: { task_id: id, status: out.status },
    });
  deps.events.publish('tasks', 'task.signal', { task_id: id, name, sent_by: from.name, woke: out.woke });
  for (const t of out.changed) deps.events.publish('tasks', changeEvent(t), t);
  if (out.woke) deps.engine.wake();
  return out.task;
}

async function decide(
  deps: ModuleDeps,
  id: string,
  approved: boolean,
  reason: string | null,
  from: Sender,
): Promise<Task> {
  const task = await signal(deps, id, APPROVAL_SIGNAL, { approved, by: from.name, reason }, from);
  const event = approved ? 'task.approved' : 'task.rejected';
  await deps.store.security.audit({ event, principal: from.name, ip: from.ip, detail: { task_id: id, reason } });
  deps.events.publish('tasks', event, { task_id: id, by: from.name, reason, status: task.status });
  deps.log.info(
    { event, task_id: id, by: from.name, reason },
    `task ${id} ${approved ? 'approved' : 'rejected'} by ${from.name ?? 'unknown'}`,
  );
  return task;
}

async function scheduleOf(deps: ModuleDeps, ref: string): Promise<Schedule> {
  const s = await deps.store.getSchedule(ref);
  if (s === undefined) throw new HubError('NOT_FOUND', `no schedule ${ref}`, { details: { schedule: ref } });
  return s;
}

async function createSchedule(deps: ModuleDeps, s: NewSchedule): Promise<Schedule> {
  const next = s.paused ? null : nextTick(s, new Date());
  const created = await deps.store.createSchedule(s, next?.toISOString() ?? null);
  // queue_one: the queued run waits on the schedule's own key until the running one ends.
  if (s.overlap === 'queue_one') await deps.store.setFlowRule(scheduleKey(created.id), 'concurrency', { limit: 1 });
  deps.engine.workflows.scheduled(created.next_run_at);
  deps.log.info({ event: 'schedule.created', schedule_id: created.id, name: s.name }, `schedule ${s.name} created`);
  return created;
}

async function pause(deps: ModuleDeps, ref: string, paused: boolean): Promise<Schedule> {
  const s = await scheduleOf(deps, ref);
  const next = paused ? null : nextTick(s, new Date());
  const after = await deps.store.setSchedulePaused(s.id, paused, next?.toISOString() ?? null);
  if (after === undefined) throw new HubError('NOT_FOUND', `no schedule ${ref}`, { details: { schedule: ref } });
  if (!paused) deps.engine.workflows.scheduled(after.next_run_at);
  return after;
}

async function trigger(deps: ModuleDeps, ref: string): Promise<{ schedule: Schedule; task: Task | null }> {
  const s = await scheduleOf(deps, ref);
  const out = await deps.store.triggerSchedule(s.id, deps.nodeId, (sc) => deps.engine.workflows.buildTask(sc));
  if (out === undefined) throw new HubError('NOT_FOUND', `no schedule ${ref}`, { details: { schedule: ref } });
  if (out.task !== null) {
    deps.events.publish('tasks', 'task.created', out.task);
    deps.engine.wake();
  }
  return out;
}
