/**
 * The SDK's remote agent: `runAgent(handler, options)` registers, runs each task
 * it is given (at most max_concurrency at once: the hub's credits), answers with
 * the result, aborts a handler the hub cancels, heartbeats, reconnects with its
 * resume token when the stream breaks (so the hub keeps its tasks), and drains
 * gracefully on stop(). A handler may end its attempt by waiting (`return
 * ctx.sleep(…)`, waitForSignal, waitForApproval, waitForChildren), create
 * children (`await ctx.spawn([...])`) and report progress (`ctx.progress(…)`).
 */
import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { hiveProto } from '../proto.js';
import { clientOptions, toProtoTask, type HubAuth, type TaskInput } from './common.js';

type Msg = Record<string, unknown>;

/** A task as a remote agent's handler sees it. */
export interface AgentTask {
  id: string;
  title: string;
  description: string;
  type: string;
  priority: string;
  payload: unknown;
  attempt: number;
  timeout_ms: number;
  /** Workflows: the parent task (or null), the checkpoint the last attempt saved, and what woke the task (timer, signal, children, timeout). */
  parent_id: string | null;
  checkpoint: unknown;
  resume: { reason: string; signal?: { name: string; payload: unknown }; children?: Msg[] } | null;
}

/** Returned by a handler (ctx.sleep and the others): the attempt ends by waiting. */
export class AgentWait {
  constructor(
    readonly wait: Msg,
    readonly checkpoint: unknown,
  ) {}
}

export interface WaitOptions {
  checkpoint?: unknown;
  timeoutMs?: number;
}

export interface AgentContext {
  signal: AbortSignal;
  /** What the task used so far, by unit (e.g. `{tokens: 512}`); the last report goes with the result and settles the task's reservation. */
  reportUsage(usage: Record<string, number>): void;
  /** Progress: a percentage (0..100), a message, a chunk of partial output; streamed to observers. */
  progress(p: { percent?: number; message?: string; chunk?: string }): void;
  /** Creates children of this task; resolves with them, stored. */
  spawn(tasks: TaskInput[]): Promise<Msg[]>;
  /** `return ctx.sleep(ms, {checkpoint})`: the task waits, holding no slot, and runs again after ms. */
  sleep(ms: number, o?: WaitOptions): AgentWait;
  continueAt(at: Date | string, o?: WaitOptions): AgentWait;
  waitForSignal(name: string, o?: WaitOptions): AgentWait;
  waitForApproval(o?: WaitOptions): AgentWait;
  waitForChildren(
    mode?: 'all' | 'any',
    o?: WaitOptions & { onChildFailure?: 'fail' | 'retry' | 'ignore'; childRetries?: number },
  ): AgentWait;
}

/** What a context sends on the stream besides the result. */
interface ContextLink {
  progress(taskId: string, p: Msg): void;
  spawn(taskId: string, tasks: TaskInput[]): Promise<Msg[]>;
}

function waits(): Pick<AgentContext, 'sleep' | 'continueAt' | 'waitForSignal' | 'waitForApproval' | 'waitForChildren'> {
  const w = (wait: Msg, o: WaitOptions = {}): AgentWait =>
    new AgentWait({ ...wait, timeout_ms: o.timeoutMs ?? 0 }, o.checkpoint);
  return {
    sleep: (ms, o) => w({ sleep_ms: ms }, { checkpoint: o?.checkpoint }),
    continueAt: (at, o) => w({ until: at instanceof Date ? at.toISOString() : at }, { checkpoint: o?.checkpoint }),
    waitForSignal: (name, o) => w({ signal: name }, o),
    waitForApproval: (o) => w({ approval: true }, o),
    waitForChildren: (mode = 'all', o = {}) =>
      w({ children: mode, on_child_failure: o.onChildFailure ?? '', child_retries: o.childRetries ?? 0 }, o),
  };
}

export type AgentHandler = (task: AgentTask, ctx: AgentContext) => unknown;

export interface AgentOptions {
  address: string;
  name: string;
  capabilities: Array<{ name: string; proficiency: number }>;
  maxConcurrency?: number;
  labels?: Record<string, string>;
  /** Delay before reconnecting after the stream breaks, ms. */
  reconnectMs?: number;
  heartbeatMs?: number;
  /** Credentials when the hub has security on (an API key with role agent, usually). */
  auth?: HubAuth;
  /**
   * A resume token from an earlier process of this agent (RunningAgent.resumeToken):
   * inside the hub's grace the new process takes over that agent and gets its
   * unfinished tasks sent again.
   */
  resumeToken?: string;
}

export interface RunningAgent {
  /** Resolves with the agent's id once registered (and after every resume). */
  readonly registered: Promise<string>;
  readonly agentId: string | undefined;
  /** The token that resumes this agent, from another process too ('' before Registered). */
  readonly resumeToken: string;
  /** Tasks running now. */
  readonly inFlight: number;
  /** Breaks the connection (testing reconnection): the agent reconnects with its resume token. */
  disconnect(): void;
  /** Drains: no new tasks, waits for the running ones, then closes. */
  stop(): Promise<void>;
}

/** Runs a remote agent until stop(). A handler's thrown error with `retryable: true` asks for a retry. */
export function runAgent(handler: AgentHandler, o: AgentOptions): RunningAgent {
  return new AgentConnection(handler, o);
}

type Stream = grpc.ClientDuplexStream<Msg, Msg>;

/** A task as the agent's handler gets it. */
function agentTask(t: Msg): AgentTask {
  return {
    id: String(t['id']),
    title: String(t['title']),
    description: String(t['description']),
    type: String(t['type']),
    priority: String(t['priority']),
    payload: jsonOr(t['payload_json']),
    attempt: Number(t['attempts']),
    timeout_ms: Number(t['timeout_ms']),
    parent_id: typeof t['parent_id'] === 'string' && t['parent_id'] !== '' ? t['parent_id'] : null,
    checkpoint: jsonOr(t['checkpoint_json']),
    resume: jsonOr(t['resume_json']) as AgentTask['resume'],
  };
}

function jsonOr(v: unknown): unknown {
  return typeof v === 'string' && v !== '' ? (JSON.parse(v) as unknown) : null;
}

/** A handler's outcome as a TaskResult. */
async function resultOf(handler: AgentHandler, task: AgentTask, signal: AbortSignal, link: ContextLink): Promise<Msg> {
  let usage: Record<string, number> = {};
  const ctx: AgentContext = {
    signal,
    reportUsage: (u) => (usage = { ...u }),
    progress: (p) => link.progress(task.id, p),
    spawn: (tasks) => link.spawn(task.id, tasks),
    ...waits(),
  };
  try {
    const output = await handler(task, ctx);
    if (output instanceof AgentWait)
      return { task_id: task.id, wait: output.wait, checkpoint_json: JSON.stringify(output.checkpoint ?? null), usage };
    return { task_id: task.id, success: true, output_json: JSON.stringify(output ?? null), usage };
  } catch (err) {
    const e = err as { message?: string; code?: unknown; retryable?: unknown };
    return {
      task_id: task.id,
      usage,
      success: false,
      error: {
        code: typeof e.code === 'string' ? e.code : 'TASK_FAILED',
        message: e.message ?? String(err),
        retryable: e.retryable === true,
      },
    };
  }
}

/** One agent's connection, kept across reconnections (resumed with its token). */
class AgentConnection implements RunningAgent {
  readonly registered: Promise<string>;
  agentId: string | undefined;
  private readonly client: grpc.Client;
  private readonly running = new Map<string, AbortController>();
  private stream: Stream | undefined;
  private token: string;
  private stopping = false;
  private closed = false;
  private onDrained: (() => void) | undefined;
  private markRegistered!: (id: string) => void;
  private readonly heartbeat: NodeJS.Timeout;
  /** Results that end in the same turn go out as one message. */
  private results: Msg[] = [];
  /** SpawnTasks waiting for Spawned (or Rejected), by request id. */
  private readonly spawns = new Map<string, { resolve: (tasks: Msg[]) => void; reject: (err: Error) => void }>();
  private readonly link: ContextLink = {
    progress: (taskId, p) => this.stream?.write({ progress: { task_id: taskId, ...p } }),
    spawn: (taskId, tasks) =>
      new Promise((resolve, reject) => {
        const request_id = randomUUID();
        this.spawns.set(request_id, { resolve, reject });
        this.stream?.write({ spawn: { request_id, task_id: taskId, tasks: tasks.map(toProtoTask) } });
      }),
  };

  constructor(
    private readonly handler: AgentHandler,
    private readonly o: AgentOptions,
  ) {
    this.client = new (hiveProto().AgentServiceClient)(
      o.address,
      grpc.credentials.createInsecure(),
      clientOptions(o.auth),
    );
    this.token = o.resumeToken ?? '';
    this.registered = new Promise<string>((r) => (this.markRegistered = r));
    this.heartbeat = setInterval(() => this.stream?.write({ heartbeat: {} }), o.heartbeatMs ?? 10_000);
    this.heartbeat.unref();
    this.connect();
  }

  get resumeToken(): string {
    return this.token;
  }

  get inFlight(): number {
    return this.running.size;
  }

  disconnect(): void {
    this.stream?.cancel();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const drained = new Promise<void>((r) => (this.onDrained = r));
    this.stream?.write({ drain: {} });
    if (this.running.size > 0) await drained;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.stream?.end();
    this.client.close();
  }

  private connect(): void {
    if (this.closed) return;
    const s = (this.client as unknown as { Connect: () => Stream }).Connect();
    this.stream = s;
    s.on('data', (m: Msg) => this.onData(s, m));
    const retry = (): void => {
      if (this.stream !== s) return;
      this.stream = undefined;
      if (!this.closed) setTimeout(() => this.connect(), this.o.reconnectMs ?? 500).unref();
    };
    s.on('error', retry);
    s.on('end', retry);
    s.write({ register: this.register() });
  }

  private onData(s: Stream, m: Msg): void {
    if (m['registered'] !== undefined) {
      const r = m['registered'] as Msg;
      this.agentId = String(r['agent_id']);
      this.token = String(r['resume_token']);
      this.markRegistered(this.agentId);
    } else if (m['assigned'] !== undefined) {
      for (const t of (m['assigned'] as { tasks: Msg[] }).tasks) this.runTask(t);
    } else if (m['cancel'] !== undefined) {
      const c = m['cancel'] as Msg;
      const reason = typeof c['reason'] === 'string' && c['reason'] !== '' ? c['reason'] : 'cancelled by the hub';
      this.running.get(String(c['task_id']))?.abort(new Error(reason));
      this.running.delete(String(c['task_id']));
    } else if (m['drained'] !== undefined) {
      this.onDrained?.();
    } else if (m['spawned'] !== undefined) {
      const sp = m['spawned'] as Msg;
      this.spawns.get(String(sp['request_id']))?.resolve((sp['tasks'] as Msg[] | undefined) ?? []);
      this.spawns.delete(String(sp['request_id']));
    } else if (m['rejected'] !== undefined) {
      const r = m['rejected'] as Msg;
      const spawn = this.spawns.get(text(r['request_id']));
      if (spawn !== undefined) {
        this.spawns.delete(text(r['request_id']));
        spawn.reject(Object.assign(new Error(String(r['message'])), { code: r['code'] }));
        return;
      }
      if (String(r['code']) === 'NOT_FOUND' && this.token !== '') {
        // The resume came too late (the hub requeued our tasks): register as a new agent.
        this.token = '';
        for (const c of this.running.values()) c.abort(new Error('the hub requeued this task'));
        this.running.clear();
        s.write({ register: this.register() });
      }
    }
  }

  private register(): Msg {
    const o = this.o;
    return {
      name: o.name,
      capabilities: o.capabilities,
      max_concurrency: o.maxConcurrency ?? 1,
      labels: o.labels ?? {},
      resume_token: this.token,
      redeliver: true,
      running_task_ids: [...this.running.keys()],
    };
  }

  private runTask(t: Msg): void {
    const task = agentTask(t);
    if (this.running.has(task.id)) return; // already running here (sent again after a resume)
    const controller = new AbortController();
    this.running.set(task.id, controller);
    void Promise.resolve()
      .then(() => resultOf(this.handler, task, controller.signal, this.link))
      .then((result) => {
        // Cancelled by the hub: no result is expected.
        if (!this.running.delete(task.id) || controller.signal.aborted) return;
        this.sendResult(result);
        if (this.stopping && this.running.size === 0) this.onDrained?.();
      });
  }

  private sendResult(result: Msg): void {
    this.results.push(result);
    if (this.results.length > 1) return;
    // The results of one turn of the event loop go out as one TaskResults (handlers of a batch end a few promise steps apart).
    setImmediate(() => {
      const batch = this.results;
      this.results = [];
      this.stream?.write(batch.length === 1 ? { result: batch[0] } : { results: { results: batch } });
    });
  }
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
