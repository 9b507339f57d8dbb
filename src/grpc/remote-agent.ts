/**
 * One remote agent's side of AgentService.Connect. A RemoteAgent outlives its
 * streams: its dispatcher (what the task engine calls, through Sessions, to run
 * a task on it) waits for the agent's TaskResult; if the stream breaks, its
 * tasks are kept for [grpc] agent_grace_ms, and a resume attaches the new stream
 * to them. Sends are bounded by a SendBudget (a reader that stops reading).
 */
import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { checkJsonValue } from '../domain/index.js';
import { errorMessage } from '../errors/index.js';
import { TaskFailure, type ExecutorContext, type ExecutorTask, type Handler } from '../engine/handler.js';
import { parseJsonField, protoTaskBody, taskToProto, text, type ProtoNewTask } from './convert.js';
import { protoWait, protoProgress } from './workflow-convert.js';
import { SendBudget, approxBytes } from './send-budget.js';

export type Stream = grpc.ServerDuplexStream<Record<string, unknown>, Record<string, unknown>>;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  ctx: ExecutorContext;
}

export class RemoteAgent {
  stream: Stream | undefined;
  connectedSince = new Date().toISOString();
  private readonly pending = new Map<string, Pending & { task: ExecutorTask }>();
  private outbox: Array<Record<string, unknown>> = [];
  private graceTimer: NodeJS.Timeout | undefined;
  private budget: SendBudget | undefined;
  draining = false;

  /** The id agent_management and the engine know this session by (Sessions). */
  readonly session = randomUUID();
  /** Set once the hub has stored the agent (tasks assigned before that wait in the outbox). */
  id = '';
  name = '';

  constructor(
    readonly token: string,
    readonly labels: Record<string, string>,
    private readonly maxUnsentBytes: number,
    readonly owner: string,
  ) {}

  /** What the runner calls: sends the task (batched with others of this turn) and waits for its result. */
  readonly dispatcher: Handler = (task: ExecutorTask, ctx: ExecutorContext) =>
    new Promise((resolve, reject) => {
      this.pending.set(task.id, { resolve, reject, task, ctx });
      ctx.signal.addEventListener('abort', () => {
        if (this.pending.delete(task.id))
          this.send({
            cancel: {
              task_id: task.id,
              reason: String((ctx.signal.reason as Error | undefined)?.message ?? 'cancelled'),
            },
          });
      });
      this.assign(task);
    });

  private assign(task: ExecutorTask): void {
    this.outbox.push({
      id: task.id,
      title: task.title,
      description: task.description,
      type: task.type,
      priority: task.priority,
      payload_json: JSON.stringify(task.payload ?? null),
      attempts: task.attempt,
      timeout_ms: task.timeout_ms,
      status: 'running',
      parent_id: task.parent_id ?? '',
      checkpoint_json: JSON.stringify(task.checkpoint ?? null),
      resume_json: JSON.stringify(task.resume ?? null),
    });
    // At the end of this turn of the event loop, not of this microtask: the tasks started by one batch of results
    // reach their slots several promise steps later, and would otherwise go out one TaskAssigned each.
    if (this.outbox.length === 1) setImmediate(() => this.flushAssigned());
  }

  /** Several tasks assigned in the same turn go out as one TaskAssigned. */
  flushAssigned(): void {
    if (this.outbox.length === 0 || this.stream === undefined) return;
    const tasks = this.outbox;
    this.outbox = [];
    this.send({ assigned: { tasks } }, approxBytes(...tasks.map((t) => t['payload_json'] as string)));
  }

  /** Writes to the agent; an agent that does not read past [grpc] max_unsent_bytes is cut (RESOURCE_EXHAUSTED), as if it had disconnected. */
  send(msg: Record<string, unknown>, sizeBytes = 256): void {
    const stream = this.stream;
    if (stream === undefined || this.budget === undefined) return;
    if (this.budget.write(stream, msg, sizeBytes)) return;
    const limit = this.budget.maxBytes;
    this.stream = undefined;
    stream.emit(
      'error',
      Object.assign(new Error(`the agent does not read: more than ${limit} bytes unsent ([grpc] max_unsent_bytes)`), {
        code: grpc.status.RESOURCE_EXHAUSTED,
      }),
    );
  }

  /** A TaskResult: settles the dispatcher's promise; unknown tasks are refused, nothing changes. */
  result(r: Record<string, unknown>): void {
    const taskId = text(r['task_id']);
    const p = this.pending.get(taskId);
    if (p === undefined) {
      this.send({
        rejected: {
          status: 9,
          code: 'INVALID_STATE',
          message: `task ${taskId} is not assigned to this agent (or was cancelled, or already reported)`,
          task_id: taskId,
        },
      });
      return;
    }
    const usage = r['usage'] as Record<string, number> | undefined;
    if (usage !== undefined && Object.keys(usage).length > 0) {
      try {
        p.ctx.reportUsage(usage);
      } catch (err) {
        this.send({ rejected: { status: 3, code: 'VALIDATION_FAILED', message: errorMessage(err), task_id: taskId } });
        return;
      }
    }
    if (r['wait'] !== undefined && r['wait'] !== null) {
      if (!this.suspend(p, taskId, r)) return;
    } else if (r['success'] === true) {
      let output: unknown;
      try {
        output = parseJsonField(text(r['output_json']), 'output_json');
      } catch (err) {
        this.send({ rejected: { status: 3, code: 'VALIDATION_FAILED', message: errorMessage(err), task_id: taskId } });
        return;
      }
      try {
        checkJsonValue(output, 'output_json');
      } catch (err) {
        // Valid JSON that no store can hold: refused, and this attempt fails (retried or ended by the task's policy).
        this.send({ rejected: { status: 3, code: 'VALIDATION_FAILED', message: errorMessage(err), task_id: taskId } });
        this.pending.delete(taskId);
        p.reject(new TaskFailure(`the agent's result cannot be stored: ${errorMessage(err)}`, true, 'RESULT_INVALID'));
        return;
      }
      this.pending.delete(taskId);
      p.resolve(output);
    } else {
      const e = (r['error'] ?? {}) as { code?: string; message?: string; retryable?: boolean };
      this.pending.delete(taskId);
      // The message is stored with the task: a NUL in it is replaced, not refused (it describes a failure, it is not data).
      p.reject(
        new TaskFailure(
          (e.message ?? '').replaceAll('\u0000', '\uFFFD') || 'the remote agent reported a failure',
          e.retryable === true,
          /^[A-Z][A-Z0-9_]{0,63}$/.test(e.code ?? '') ? e.code : 'TASK_FAILED',
        ),
      );
    }
    if (this.draining && this.pending.size === 0) this.send({ drained: {} });
  }

  /** A result that waits: the attempt ends by waiting; a bad wait is refused (false) and nothing changes. */
  private suspend(p: Pending, taskId: string, r: Record<string, unknown>): boolean {
    try {
      const suspend = protoWait(r['wait'] as Record<string, unknown>, text(r['checkpoint_json']));
      this.pending.delete(taskId);
      p.resolve(suspend);
      return true;
    } catch (err) {
      this.refuse(3, 'VALIDATION_FAILED', errorMessage(err), taskId);
      return false;
    }
  }

  /** A TaskProgress of a task this agent runs: checked, streamed and stored; a bad one is refused. */
  progress(m: Record<string, unknown>): void {
    const taskId = text(m['task_id']);
    const p = this.pending.get(taskId);
    if (p === undefined) return this.refuse(9, 'INVALID_STATE', `task ${taskId} is not running on this agent`, taskId);
    try {
      p.ctx.progress(protoProgress(m));
    } catch (err) {
      this.refuse(3, 'VALIDATION_FAILED', errorMessage(err), taskId);
    }
  }

  /** A SpawnTasks: children of a task this agent runs; answered Spawned (or Rejected with its request_id). */
  spawn(m: Record<string, unknown>): void {
    const taskId = text(m['task_id']);
    const requestId = text(m['request_id']);
    const p = this.pending.get(taskId);
    if (p === undefined)
      return this.refuse(9, 'INVALID_STATE', `task ${taskId} is not running on this agent`, taskId, requestId);
    let bodies: Array<Record<string, unknown>>;
    try {
      bodies = ((m['tasks'] as ProtoNewTask[] | undefined) ?? []).map((t, i) => protoTaskBody(t, `tasks[${i}]`));
    } catch (err) {
      return this.refuse(3, 'VALIDATION_FAILED', errorMessage(err), taskId, requestId);
    }
    p.ctx.spawn(bodies).then(
      (tasks) => this.send({ spawned: { request_id: requestId, tasks: tasks.map(taskToProto) } }),
      (err: unknown) => {
        const e = err as { code?: string; grpcStatus?: number };
        this.refuse(e.grpcStatus ?? 3, e.code ?? 'VALIDATION_FAILED', errorMessage(err), taskId, requestId);
      },
    );
  }

  private refuse(status: number, code: string, message: string, taskId: string, requestId = ''): void {
    this.send({ rejected: { status, code, message, task_id: taskId, request_id: requestId } });
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** On a resume: sends again the tasks held for this agent that its process no longer runs. */
  redeliver(running: ReadonlySet<string>): number {
    let n = 0;
    for (const [id, p] of this.pending) {
      if (running.has(id)) continue;
      this.assign(p.task);
      n++;
    }
    return n;
  }

  attach(stream: Stream): void {
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.stream = stream;
    this.budget = new SendBudget(this.maxUnsentBytes);
    this.connectedSince = new Date().toISOString();
    this.flushAssigned();
  }

  /** Ends the grace now without its expiry action (a new session takes over). */
  endGrace(): void {
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.pending.clear();
  }

  detach(graceMs: number, onExpired: () => void): void {
    this.stream = undefined;
    this.graceTimer = setTimeout(() => {
      this.graceTimer = undefined;
      // The runner aborts what is still in flight (requeued); the promises here are dropped.
      this.pending.clear();
      onExpired();
    }, graceMs);
    this.graceTimer.unref();
  }
}
