/**
 * AgentService.Connect: remote agents over one bidi stream each. A RemoteAgent
 * outlives its streams: its dispatcher (what the task engine calls, through
 * Sessions, to run a task on it) waits for the agent's TaskResult; if the stream breaks, its tasks are
 * kept for [grpc] agent_grace_ms, and a Register with its resume token inside
 * that time attaches the new stream to them. Credits: the runner never gives an
 * agent more than its max_concurrency tasks at once.
 */
import * as grpc from '@grpc/grpc-js';
import { randomBytes, randomUUID } from 'node:crypto';
import { checkJsonValue, parseNewAgent, type Task } from '../domain/index.js';
import { HubError, errorMessage } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { Hive } from '../../actors/hive/hive.js';
import type { AgentManagementMsg, AgentView } from '../../actors/agent-management/messages.js';
import { TaskFailure, type ExecutorContext, type ExecutorTask, type Handler } from '../engine/handler.js';
import type { Sessions } from '../engine/sessions.js';
import { parseJsonField, text } from './convert.js';
import { SendBudget, approxBytes } from './send-budget.js';
import { principalOf } from './auth.js';
import { isMalformed, malformedError } from './malformed.js';

type Stream = grpc.ServerDuplexStream<Record<string, unknown>, Record<string, unknown>>;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export interface AgentServiceDeps {
  hive: Hive;
  log: Logger;
  graceMs: number;
  pingMs: number;
  maxUnsentBytes: number;
  /** Where the engine finds each agent's dispatcher (by session id). */
  sessions: Sessions;
}

class RemoteAgent {
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
      this.pending.set(task.id, { resolve, reject, task });
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
    });
    if (this.outbox.length === 1) queueMicrotask(() => this.flushAssigned());
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
    if (r['success'] === true) {
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

/** The principal that opened the stream, as an agent's owner ("anonymous" without security). */
function ownerOf(stream: Stream): string {
  const p = principalOf(stream);
  return p === undefined || p.kind === 'anonymous' ? 'anonymous' : `${p.kind}:${p.id}`;
}

export class RemoteAgents {
  private readonly byToken = new Map<string, RemoteAgent>();
  private readonly byId = new Map<string, RemoteAgent>();

  constructor(private readonly d: AgentServiceDeps) {}

  info(agentId: string): { connected_since: string; labels: Record<string, string> } | undefined {
    const a = this.byId.get(agentId);
    return a === undefined
      ? undefined
      : { connected_since: a.stream === undefined ? '' : a.connectedSince, labels: a.labels };
  }

  private tell(msg: AgentManagementMsg, agentId: string): void {
    try {
      this.d.hive.tell(this.d.hive.modules.agent_management, msg);
    } catch (err) {
      this.d.log.warn({ err, agent_id: agentId }, `could not tell agent_management ${msg.type} of a remote agent`);
    }
  }

  private get agents() {
    return this.d.hive.to(this.d.hive.modules.agent_management);
  }

  /**
   * A new session of an agent (same name, same principal, no resume token) ends the
   * old one still in its grace: the old session's tasks are requeued at once and the
   * new one takes over the agent's record (agent_management decides).
   */
  private endFormerSession(name: string, owner: string): void {
    for (const a of this.byId.values()) {
      if (a.name !== name || a.owner !== owner || a.stream !== undefined) continue;
      a.endGrace();
      this.forget(a);
      this.tell({ type: 'agent.detach', id: a.id, reason: `agent ${a.name} connected again as a new session` }, a.id);
    }
  }

  /** A session that ended for good: its token, its id and its dispatcher are gone. */
  private forget(a: RemoteAgent): void {
    this.byToken.delete(a.token);
    this.byId.delete(a.id);
    this.d.sessions.delete(a.session);
  }

  /** The Connect handler. */
  connect(stream: Stream): void {
    let agent: RemoteAgent | undefined;
    let registering = false;
    const reject = (status: number, code: string, message: string, taskId = ''): void => {
      stream.write({ rejected: { status, code, message, task_id: taskId } });
    };
    const ping = setInterval(() => stream.write({ ping: { sent_at_ms: Date.now() } }), this.d.pingMs);
    ping.unref();
    stream.on('data', (m: Record<string, unknown>) => {
      if (isMalformed(m)) return reject(3, 'VALIDATION_FAILED', malformedError(m).message);
      const kind = m['msg'];
      if (agent === undefined) {
        if (kind !== 'register' || registering)
          return reject(
            9,
            'INVALID_STATE',
            registering ? 'wait for Registered before sending more' : 'the first message must be Register',
          );
        registering = true;
        this.register(stream, m['register'] as Record<string, unknown>).then(
          (a) => {
            agent = a;
            registering = false;
          },
          (err: unknown) => {
            registering = false;
            const e = err instanceof HubError ? err : new HubError('INTERNAL', errorMessage(err));
            reject(e.grpcStatus, e.code, e.message);
          },
        );
        return;
      }
      switch (kind) {
        case 'register':
          return reject(
            9,
            'INVALID_STATE',
            'this stream already registered agent ' + agent.id + '; a second Register is refused',
          );
        case 'result':
          return agent.result(m['result'] as Record<string, unknown>);
        case 'results':
          for (const r of (m['results'] as { results?: Array<Record<string, unknown>> }).results ?? []) agent.result(r);
          return;
        case 'drain':
          agent.draining = true;
          void this.agents('agent.set_paused', { id: agent.id, paused: true }).catch(() => undefined);
          if (agent.inFlight === 0) stream.write({ drained: {} });
          return;
        case 'heartbeat':
        case 'progress':
          return;
        default:
          return reject(
            3,
            'VALIDATION_FAILED',
            'msg: expected register, heartbeat, progress, result, results or drain',
          );
      }
    });
    /**
     * The stream is over. Ended by the agent after Drain (it declared itself gone): its
     * tasks go to other agents at once. Broken (killed, network, cut by the hub): it
     * gets no new task, and its running ones wait the grace for a resume.
     */
    let over = false;
    const gone = (clean: boolean): void => {
      clearInterval(ping);
      const a = agent;
      if (over || a === undefined || (a.stream !== stream && a.stream !== undefined)) return;
      over = true;
      const expire = (reason: string): void => {
        this.forget(a);
        this.tell({ type: 'agent.detach', id: a.id, reason }, a.id);
      };
      if (clean) {
        a.detach(0, () => expire(`remote agent ${a.name} ended its stream`));
        this.d.log.info(
          { event: 'agent.disconnected', agent_id: a.id, clean: true },
          `remote agent ${a.name} ended its stream; its tasks go to other agents`,
        );
        return;
      }
      this.tell({ type: 'agent.disconnected', id: a.id }, a.id);
      a.detach(this.d.graceMs, () =>
        expire(`remote agent ${a.name} disconnected and did not resume within ${this.d.graceMs} ms`),
      );
      this.d.log.info(
        { event: 'agent.disconnected', agent_id: a.id, grace_ms: this.d.graceMs },
        `remote agent ${a.name} disconnected; it gets no new task, and its running ones are kept for ${this.d.graceMs} ms`,
      );
    };
    // A cancelled or broken call ends its reading side too: only an end after Drain is the agent saying it is gone.
    stream.on('end', () => {
      gone(agent?.draining === true);
      stream.end();
    });
    stream.on('error', () => gone(false));
    stream.on('cancelled', () => gone(false));
  }

  private async register(stream: Stream, r: Record<string, unknown> | undefined): Promise<RemoteAgent> {
    if (r === undefined) throw new HubError('VALIDATION_FAILED', 'register: missing');
    const token = text(r['resume_token']);
    const previous = token === '' ? undefined : this.byToken.get(token);
    if (token !== '' && previous === undefined)
      throw new HubError('NOT_FOUND', 'resume_token: unknown or expired; register without it to start a new agent', {
        details: { field: 'resume_token' },
      });
    if (previous !== undefined) {
      await this.agents('agent.attach', { id: previous.id, session: previous.session });
      stream.write({
        registered: { agent_id: previous.id, resume_token: previous.token, grace_ms: this.d.graceMs, resumed: true },
      });
      if (r['redeliver'] === true) {
        const running = new Set(((r['running_task_ids'] as string[] | undefined) ?? []).map((id) => id.toLowerCase()));
        const n = previous.redeliver(running);
        if (n > 0)
          this.d.log.info(
            { event: 'agent.redelivered', agent_id: previous.id, tasks: n },
            `remote agent ${previous.name} resumed; ${n} task(s) it no longer ran sent again`,
          );
      }
      previous.attach(stream);
      return previous;
    }
    const capabilities = ((r['capabilities'] as Array<{ name: string; proficiency: number }> | undefined) ?? []).map(
      (c) => ({ name: c.name, proficiency: c.proficiency }),
    );
    const body: Record<string, unknown> = {
      name: r['name'],
      capabilities,
      max_concurrency: Number(r['max_concurrency'] ?? 0) || 1,
    };
    if (r['type'] !== '' && r['type'] !== undefined) body['type'] = r['type'];
    const owner = ownerOf(stream);
    const parsed = { ...parseNewAgent(body), kind: 'remote' as const, executor: null, owner };
    this.endFormerSession(parsed.name, owner);
    const newToken = randomBytes(24).toString('base64url');
    // Made before the agent is stored: tasks the runner hands it at once wait in its outbox until Registered is sent.
    const agent = new RemoteAgent(
      newToken,
      (r['labels'] as Record<string, string> | undefined) ?? {},
      this.d.maxUnsentBytes,
      owner,
    );
    this.d.sessions.add(agent.session, agent.dispatcher);
    let view: AgentView;
    try {
      view = await this.agents('agent.register', { agent: parsed, session: agent.session });
    } catch (err) {
      this.d.sessions.delete(agent.session); // refused (a limit, a bad name): nothing holds it
      throw err;
    }
    agent.id = view.id;
    agent.name = view.name;
    this.byToken.set(newToken, agent);
    this.byId.set(agent.id, agent);
    stream.write({
      registered: { agent_id: agent.id, resume_token: newToken, grace_ms: this.d.graceMs, resumed: false },
    });
    agent.attach(stream);
    return agent;
  }
}

export type { Task };
