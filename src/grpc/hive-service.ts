/** HiveService: the REST API's task and agent operations over gRPC (an adapter: actor messages in, protos out). */
import * as grpc from '@grpc/grpc-js';
import type { HubConfig } from '../config/index.js';
import { SendBudget, approxBytes } from './send-budget.js';
import {
  AGENT_KINDS,
  AGENT_STATES,
  AGENT_TYPES,
  PRIORITIES,
  TASK_STATUSES,
  invalid,
  parseAnalyzeText,
  type AgentKind,
  type AgentState,
  type AgentType,
  type Priority,
  type Task,
  type TaskStatus,
} from '../domain/index.js';
import { HubError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { EventBus, ReplyTo } from '../runtime/index.js';
import { isUuid, type Page } from '../storage/index.js';
import type { Hive } from '../../actors/hive/hive.js';
import type { Submitted, TaskDetail, TaskManagementMsg } from '../../actors/task-distributor/messages.js';
import type { AgentManagementMsg, AgentView } from '../../actors/agent-management/messages.js';
import type { HiveStatus, SwarmCoordinatorMsg } from '../../actors/swarm-coordinator/messages.js';
import type { NeuralMsg } from '../../actors/neural-processor/messages.js';
import type { Analysis } from '../neural/engine.js';
import { agentToProto, newTaskFromProto, taskToProto, text, type ProtoNewTask } from './convert.js';
import { toServiceError } from './errors.js';
import { isMalformed, malformedError } from './malformed.js';

export interface HiveServiceDeps {
  config: HubConfig;
  hive: Hive;
  events: EventBus;
  log: Logger;
  /** Extra fields of connected remote agents (connected_since, labels). */
  remoteInfo: (agentId: string) => { connected_since: string; labels: Record<string, string> } | undefined;
}

type Unary = (
  call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>,
  callback: grpc.sendUnaryData<unknown>,
) => void;

/** Milliseconds left before the call's deadline; Infinity when it has none. */
export function remainingMs(call: { getDeadline(): grpc.Deadline }): number {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? at - Date.now() : Infinity;
}

/**
 * A unary handler that honours the caller's deadline: a call that arrives past it
 * is refused before any work (nothing changes), and the actor ask is bounded by
 * what is left of it, so the hub stops waiting when the caller has stopped too.
 */
export function unary(fn: (req: Record<string, unknown>, timeoutMs: number | undefined) => Promise<unknown>): Unary {
  return (call, callback) => {
    if (isMalformed(call.request)) {
      callback(toServiceError(malformedError(call.request)));
      return;
    }
    const left = remainingMs(call);
    if (left <= 0) {
      callback(
        toServiceError(new HubError('DEADLINE_EXCEEDED', 'the call arrived after its deadline; nothing was done')),
      );
      return;
    }
    fn(call.request, Number.isFinite(left) ? Math.max(1, Math.floor(left)) : undefined).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toServiceError(err)),
    );
  };
}

function oneOf<T extends string>(value: unknown, values: readonly T[], field: string): T | undefined {
  if (value === '' || value === undefined) return undefined;
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value))
    throw invalid(field, `expected one of ${values.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

function paging(req: Record<string, unknown>): { limit: number; offset: number } {
  const limit = Number(req['limit'] ?? 0) || 100;
  const offset = Number(req['offset'] ?? 0);
  if (limit < 1 || limit > 1000) throw invalid('limit', 'expected 1 to 1000 (0 means 100)');
  if (offset < 0) throw invalid('offset', 'expected 0 or more');
  return { limit, offset };
}

function taskId(value: unknown, field = 'id'): string {
  if (typeof value !== 'string' || !isUuid(value))
    throw invalid(field, `expected a task id (UUID), got ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

export function hiveServiceImplementation(d: HiveServiceDeps): grpc.UntypedServiceImplementation {
  const tasks = <R>(build: (replyTo: ReplyTo<R>) => TaskManagementMsg, timeoutMs?: number): Promise<R> =>
    d.hive.ask(d.hive.modules.task_management, build, timeoutMs);
  const agents = <R>(build: (replyTo: ReplyTo<R>) => AgentManagementMsg, timeoutMs?: number): Promise<R> =>
    d.hive.ask(d.hive.modules.agent_management, build, timeoutMs);
  const defaults = { maxAttempts: d.config.tasks.max_attempts, timeoutMs: d.config.tasks.default_timeout_ms };
  const withRemote = (a: AgentView): Record<string, unknown> => agentToProto({ ...a, ...(d.remoteInfo(a.id) ?? {}) });

  return {
    SubmitTask: unary(async (req, timeoutMs) => {
      const task = newTaskFromProto(req['task'] as ProtoNewTask | undefined, defaults);
      const r = await tasks(
        (replyTo: ReplyTo<Submitted>): TaskManagementMsg => ({ type: 'task.submit', task, replyTo }),
        timeoutMs,
      );
      return { task: taskToProto(r.task), created: r.created };
    }),
    SubmitTasks: unary(async (req, timeoutMs) => {
      const items = (req['tasks'] as ProtoNewTask[] | undefined) ?? [];
      if (items.length === 0 || items.length > 1000)
        throw invalid('tasks', `expected 1 to 1000 tasks, got ${items.length}`);
      const parsed = items.map((t, i) => newTaskFromProto(t, defaults, `tasks[${i}]`));
      const r = await tasks(
        (replyTo: ReplyTo<Submitted[]>): TaskManagementMsg => ({ type: 'task.submit_bulk', tasks: parsed, replyTo }),
        timeoutMs,
      );
      const created = r.filter((x) => x.created).length;
      return { tasks: r.map((x) => taskToProto(x.task)), created, deduplicated: r.length - created };
    }),
    GetTask: unary(async (req, timeoutMs) => {
      const id = taskId(req['id']);
      return taskToProto(
        await tasks(
          (replyTo: ReplyTo<TaskDetail>): TaskManagementMsg => ({ type: 'task.get', id, replyTo }),
          timeoutMs,
        ),
      );
    }),
    ListTasks: unary(async (req, timeoutMs) => {
      const agent = req['agent_id'] === '' ? undefined : taskId(req['agent_id'], 'agent_id');
      const filter = {
        status: oneOf<TaskStatus>(req['status'], TASK_STATUSES, 'status'),
        priority: oneOf<Priority>(req['priority'], PRIORITIES, 'priority'),
        agent,
        capability: req['capability'] === '' ? undefined : String(req['capability']),
        ...paging(req),
      };
      const page = await tasks(
        (replyTo: ReplyTo<Page<Task>>): TaskManagementMsg => ({ type: 'task.list', filter, replyTo }),
        timeoutMs,
      );
      return { tasks: page.items.map(taskToProto), total: page.total };
    }),
    CancelTask: unary(async (req, timeoutMs) => {
      const id = taskId(req['id']);
      const r = text(req['reason']);
      if (r.length > 512) throw invalid('reason', 'must be at most 512 characters');
      return taskToProto(
        await tasks(
          (replyTo: ReplyTo<Task>): TaskManagementMsg => ({
            type: 'task.cancel',
            id,
            reason: r || 'cancelled by request',
            replyTo,
          }),
          timeoutMs,
        ),
      );
    }),
    WatchTasks: (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) => {
      if (isMalformed(call.request)) {
        const e = toServiceError(malformedError(call.request));
        call.emit('error', Object.assign(new Error(e.details ?? 'malformed'), e));
        return;
      }
      const budget = new SendBudget(d.config.grpc.max_unsent_bytes);
      const types = new Set((call.request['types'] as string[] | undefined) ?? []);
      const ids = new Set(((call.request['task_ids'] as string[] | undefined) ?? []).map((x) => x.toLowerCase()));
      const unsubscribe = d.events.subscribe((e) => {
        if (e.topic !== 'tasks' || (types.size > 0 && !types.has(e.type))) return;
        const task = e.data as Task;
        if (ids.size > 0 && !ids.has(task.id)) return;
        const proto = taskToProto(task);
        const msg = { type: e.type, task: proto, timestamp: e.timestamp };
        // A watcher that does not read is cut off rather than buffered without bound (counted in bytes).
        if (
          !budget.write(
            call,
            msg,
            approxBytes(
              proto['payload_json'] as string,
              proto['result_json'] as string,
              proto['description'] as string,
            ),
          )
        ) {
          end();
          call.emit(
            'error',
            Object.assign(
              new Error(
                `the watcher is too slow: more than ${budget.maxBytes} bytes of events unsent ([grpc] max_unsent_bytes)`,
              ),
              { code: grpc.status.RESOURCE_EXHAUSTED },
            ),
          );
        }
      });
      // Counted as an observer once, uncounted once, however the call ends.
      d.events.observe(1);
      let counted = true;
      const end = (): void => {
        unsubscribe();
        if (counted) d.events.observe(-1);
        counted = false;
      };
      call.on('cancelled', end);
      call.on('close', end);
      call.on('error', end);
    },
    ListAgents: unary(async (req, timeoutMs) => {
      const filter = {
        state: oneOf<AgentState>(req['state'], AGENT_STATES, 'state'),
        type: oneOf<AgentType>(req['type'], AGENT_TYPES, 'type'),
        kind: oneOf<AgentKind>(req['kind'], AGENT_KINDS, 'kind'),
        capability: req['capability'] === '' ? undefined : String(req['capability']),
        ...paging(req),
      };
      const page = await agents(
        (replyTo: ReplyTo<Page<AgentView>>): AgentManagementMsg => ({ type: 'agent.list', filter, replyTo }),
        timeoutMs,
      );
      return { agents: page.items.map(withRemote), total: page.total };
    }),
    GetHiveStatus: unary(async (_req, timeoutMs) => {
      const s = await d.hive.ask(
        d.hive.modules.swarm_coordinator,
        (replyTo: ReplyTo<HiveStatus>): SwarmCoordinatorMsg => ({ type: 'hive.status', replyTo }),
        timeoutMs,
      );
      return { hive_id: s.hive_id, node_id: s.node_id, ...s.metrics };
    }),
    AnalyzeText: unary(async (req, timeoutMs) => {
      const text = parseAnalyzeText({ text: req['text'] });
      const [a] = await d.hive.ask(
        d.hive.modules.neural,
        (replyTo: ReplyTo<Analysis[]>): NeuralMsg => ({ type: 'neural.analyze', texts: [text], replyTo }),
        timeoutMs,
      );
      if (a === undefined) throw new HubError('INTERNAL', 'the neural processor answered nothing');
      return {
        capabilities: a.capabilities,
        priority_hint: a.priority_hint,
        keywords: a.keywords,
        tokens: a.tokens,
        model_name: a.model.name,
        model_version: a.model.version,
        cached: a.cached,
      };
    }),
  };
}
