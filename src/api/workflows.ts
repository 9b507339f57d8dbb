/**
 * Workflows, transport-neutral (docs/workflows.md): signals, approvals,
 * task trees, progress and schedules. Every transport decodes into these
 * values; the rules live here and in the domain.
 */
import { mayApprove } from '../auth/permissions.js';
import {
  APPROVAL_SIGNAL,
  invalid,
  parseNewTask,
  taskDefaultsOf,
  parseSchedule,
  parseSignalPayload,
  signalName,
  type ProgressRecord,
  type Schedule,
  type Task,
  type TaskDefaults,
} from '../domain/index.js';
import { HubError } from '../errors/index.js';
import type { HubConfig } from '../config/index.js';
import type { TaskTreeNode } from '../storage/index.js';
import type { Hive } from '../../actors/hive/hive.js';
import { moduleAsker, type CallOptions } from './ask.js';
import { fields, integer, reason, underField, uuid } from './validate.js';

/** Who calls (for approvals: the role is checked; for the record: the name and address). */
export interface Caller {
  name: string;
  roles: readonly string[];
  ip: string | null;
}

export class WorkflowsApi {
  private readonly ask;
  private readonly defaults: TaskDefaults;

  constructor(
    hive: Hive,
    private readonly config: HubConfig,
  ) {
    this.ask = moduleAsker(hive, 'task_management');
    this.defaults = taskDefaultsOf(config);
  }

  /** `{name, payload?}`: delivered now if the task waits for it, kept until it does otherwise. */
  signal(id: unknown, body: unknown, caller: Caller, o?: CallOptions): Promise<Task> {
    const input = fields(body, ['name', 'payload'], true);
    const name = signalName(input['name'], 'name');
    if (name === APPROVAL_SIGNAL)
      throw invalid(
        'name',
        `"${APPROVAL_SIGNAL}" is delivered by POST /api/tasks/:id/approve or reject (they check the role)`,
      );
    const payload = parseSignalPayload(input['payload']);
    return this.ask(
      'task.signal',
      { id: uuid(id, 'id'), name, payload, from: { name: caller.name, ip: caller.ip } },
      o,
    );
  }

  /** An approval or a rejection `{reason?}`: needs [workflows] approver_role (or admin); audited. */
  decide(id: unknown, approved: boolean, body: unknown, caller: Caller, o?: CallOptions): Promise<Task> {
    const role = this.config.workflows.approver_role;
    if (!mayApprove(caller.roles, role))
      throw new HubError('FORBIDDEN', `${approved ? 'approving' : 'rejecting'} a task needs the role ${role}`, {
        details: { required_role: role },
      });
    const why = reason(fields(body, ['reason'])['reason'], '');
    return this.ask(
      'task.decide',
      { id: uuid(id, 'id'), approved, reason: why === '' ? null : why, from: { name: caller.name, ip: caller.ip } },
      o,
    );
  }

  tree(id: unknown, limit: unknown, o?: CallOptions): Promise<{ tree: TaskTreeNode; truncated: boolean }> {
    return this.ask(
      'task.tree',
      { id: uuid(id, 'id'), limit: limit === undefined ? 1000 : integer(limit, 'limit', 1, 10_000) },
      o,
    );
  }

  progress(id: unknown, after: unknown, limit: unknown, o?: CallOptions): Promise<ProgressRecord[]> {
    return this.ask(
      'task.progress',
      {
        id: uuid(id, 'id'),
        after: after === undefined ? 0 : integer(after, 'after', 0, Number.MAX_SAFE_INTEGER),
        limit: limit === undefined ? 100 : integer(limit, 'limit', 1, 10_000),
      },
      o,
    );
  }

  createSchedule(body: unknown, o?: CallOptions): Promise<Schedule> {
    const schedule = parseSchedule(body, (template) => {
      underField('task', () => parseNewTask(template, this.defaults));
    });
    return this.ask('schedule.create', { schedule }, o);
  }

  listSchedules(o?: CallOptions): Promise<Schedule[]> {
    return this.ask('schedule.list', {}, o);
  }

  schedule(ref: string, o?: CallOptions): Promise<Schedule> {
    return this.ask('schedule.get', { ref }, o);
  }

  pause(ref: string, paused: boolean, o?: CallOptions): Promise<Schedule> {
    return this.ask('schedule.pause', { ref, paused }, o);
  }

  trigger(ref: string, o?: CallOptions): Promise<{ schedule: Schedule; task: Task | null }> {
    return this.ask('schedule.trigger', { ref }, o);
  }

  deleteSchedule(ref: string, o?: CallOptions): Promise<{ deleted: string }> {
    return this.ask('schedule.delete', { ref }, o);
  }
}
