/** HiveService: the REST API's task and agent operations over gRPC (a codec over src/api: protos in, protos out). */
import * as grpc from '@grpc/grpc-js';
import type { HubConfig } from '../config/index.js';
import { SendBudget, approxBytes } from './send-budget.js';
import type { Task } from '../domain/index.js';
import { HubError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { EventBus } from '../runtime/index.js';
import type { Hive } from '../../actors/hive/hive.js';
import type { AgentView } from '../../actors/agent-management/messages.js';
import {
  agentToProto,
  given,
  givenInt,
  parseJsonField,
  progressToProto,
  protoTaskBody,
  taskToProto,
  text,
  type ProtoNewTask,
} from './convert.js';
import { WorkflowsApi } from '../api/workflows.js';
import { principalOf } from './auth.js';
import type { ProgressRecord } from '../domain/index.js';
import { TasksApi } from '../api/tasks.js';
import { AgentsApi } from '../api/agents.js';
import { HiveApi } from '../api/hive.js';
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
export function unary(
  fn: (req: Record<string, unknown>, timeoutMs: number | undefined, call: object) => Promise<unknown>,
): Unary {
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
    fn(call.request, Number.isFinite(left) ? Math.max(1, Math.floor(left)) : undefined, call).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toServiceError(err)),
    );
  };
}

// size: one entry per RPC of HiveService, each a codec over src/api.
export function hiveServiceImplementation(d: HiveServiceDeps): grpc.UntypedServiceImplementation {
  const api = new TasksApi(d.hive, d.config);
  const agentsApi = new AgentsApi(d.hive);
  const hiveApi = new HiveApi(d.hive);
  const workflows = new WorkflowsApi(d.hive, d.config);
  const withRemote = (a: AgentView): Record<string, unknown> => agentToProto({ ...a, ...(d.remoteInfo(a.id) ?? {}) });

  return {
    SubmitTask: unary(async (req, timeoutMs) => {
      const t = req['task'] as ProtoNewTask | undefined;
      const r = await api.submit(protoTaskBody(t), t?.idempotency_key || null, { timeoutMs });
      return { task: taskToProto(r.task), created: r.created };
    }),
    SubmitTasks: unary(async (req, timeoutMs) => {
      const items = (req['tasks'] as ProtoNewTask[] | undefined) ?? [];
      const keys = { items: items.map((t) => t.idempotency_key || null) };
      const r = await api.submitBulk({ tasks: items.map((t, i) => protoTaskBody(t, `tasks[${i}]`)) }, keys, {
        timeoutMs,
      });
      return { tasks: r.tasks.map(taskToProto), created: r.created, deduplicated: r.deduplicated };
    }),
    GetTask: unary(async (req, timeoutMs) => taskToProto(await api.get(given(req['id']), { timeoutMs }))),
    ExplainTask: unary(async (req, timeoutMs) => {
      const e = await api.explain(given(req['id']), { timeoutMs });
      return {
        task_id: e.task_id,
        status: e.status,
        code: e.code,
        message: e.message,
        details_json: JSON.stringify(e.details),
      };
    }),
    ListTasks: unary(async (req, timeoutMs) => {
      const page = await api.list(
        {
          status: given(req['status']),
          priority: given(req['priority']),
          agent: given(req['agent_id']),
          capability: given(req['capability']),
          limit: givenInt(req['limit']),
          offset: givenInt(req['offset']),
        },
        { timeoutMs },
      );
      return { tasks: page.items.map(taskToProto), total: page.total };
    }),
    CancelTask: unary(async (req, timeoutMs) =>
      taskToProto(await api.cancel(given(req['id']), { reason: given(req['reason']) }, { timeoutMs })),
    ),
    SignalTask: unary(async (req, timeoutMs, call) => {
      const body = { name: given(req['name']), payload: parseJsonField(text(req['payload_json']), 'payload_json') };
      const p = principalOf(call);
      const caller = { name: p?.name ?? 'unknown', roles: p?.roles ?? [], ip: null };
      return taskToProto(await workflows.signal(given(req['id']), body, caller, { timeoutMs }));
    }),
    WatchTasks: watchTasks(d),
    ListAgents: unary(async (req, timeoutMs) => {
      const page = await agentsApi.list(
        {
          state: given(req['state']),
          type: given(req['type']),
          kind: given(req['kind']),
          capability: given(req['capability']),
          limit: givenInt(req['limit']),
          offset: givenInt(req['offset']),
        },
        { timeoutMs },
      );
      return { agents: page.items.map(withRemote), total: page.total };
    }),
    GetHiveStatus: unary(async (_req, timeoutMs) => {
      const s = await hiveApi.status({ timeoutMs });
      return { hive_id: s.hive_id, node_id: s.node_id, ...s.metrics };
    }),
    AnalyzeText: unary(async (req, timeoutMs) => {
      const a = await hiveApi.analyze({ text: req['text'] }, { timeoutMs });
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

/** Events on topic tasks that carry no task (signals, approvals, flow notes): not sent to watchers. */
const WATCH_SKIPS = new Set(['task.signal', 'task.approved', 'task.rejected', 'task.waiting']);

/** WatchTasks: task events as they happen, filtered by type and id; a watcher that stops reading is cut (bounded in bytes). */
function watchTasks(d: HiveServiceDeps): (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) => void {
  return (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) => {
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
      if (!e.type.startsWith('task.') || WATCH_SKIPS.has(e.type)) return;
      if (e.type === 'task.progress') {
        const p = e.data as ProgressRecord;
        if (ids.size > 0 && !ids.has(p.task_id)) return;
        const msg = { type: e.type, task: { id: p.task_id }, timestamp: e.timestamp, progress: progressToProto(p) };
        if (!budget.write(call, msg, approxBytes(p.chunk ?? '', p.message ?? ''))) tooSlow();
        return;
      }
      const task = e.data as Task;
      if (ids.size > 0 && !ids.has(task.id)) return;
      const proto = taskToProto(task);
      const msg = { type: e.type, task: proto, timestamp: e.timestamp };
      // A watcher that does not read is cut off rather than buffered without bound (counted in bytes).
      if (
        !budget.write(
          call,
          msg,
          approxBytes(proto['payload_json'] as string, proto['result_json'] as string, proto['description'] as string),
        )
      )
        tooSlow();
    });
    const tooSlow = (): void => {
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
    };
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
  };
}
