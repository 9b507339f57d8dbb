/** task_management's read-only views for the dashboard: dead letters by error code, and each agent's fit for a task. */
import type { Task } from '../../src/domain/index.js';
import { fitReport, type FitRow } from '../../src/engine/fit.js';
import { HubError } from '../../src/errors/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import type { ErrorGroup } from '../../src/storage/index.js';
import type { ModuleDeps } from '../shared/deps.js';

export interface FitView {
  task_id: string;
  node_id: string;
  agents: FitRow[];
}

export type ViewMsg =
  | { type: 'task.errors'; statuses: Array<'dead' | 'failed'>; limit: number; replyTo: ReplyTo<ErrorGroup[]> }
  /** How each agent of this node fits the task, as placement would weigh it now. */
  | { type: 'task.fit'; id: string; replyTo: ReplyTo<FitView> };

const VIEW_MSGS = ['task.errors', 'task.fit'] as const;

export function isViewMsg(msg: { type: string }): msg is ViewMsg {
  return (VIEW_MSGS as readonly string[]).includes(msg.type);
}

export async function getTask(deps: ModuleDeps, id: string): Promise<Task> {
  const task = await deps.store.getTask(id);
  if (task === undefined) throw new HubError('TASK_NOT_FOUND', `no task with id ${id}`, { details: { task_id: id } });
  return task;
}

async function fitView(deps: ModuleDeps, id: string): Promise<FitView> {
  const task = await getTask(deps, id);
  const { engine } = deps;
  const agents = await fitReport(engine.fitModel, engine.slots.values(), task, deps.config.tasks.prefetch);
  return { task_id: id, node_id: deps.nodeId, agents };
}

export async function serveView(deps: ModuleDeps, msg: ViewMsg): Promise<void> {
  try {
    if (msg.type === 'task.errors') msg.replyTo.ok(await deps.store.groupErrors(msg.statuses, msg.limit));
    else msg.replyTo.ok(await fitView(deps, msg.id));
  } catch (err) {
    msg.replyTo.fail(err);
  }
}
