/**
 * The TypeScript client SDK of the hub's gRPC API.
 *
 * - `HiveClient`: submit, read, list, cancel and watch tasks; list agents; status.
 * - `runAgent(handler, options)`: a remote agent. It registers, runs each task it
 *   is given (at most max_concurrency at once: the hub's credits), answers with
 *   the result, aborts a handler the hub cancels, heartbeats, reconnects with its
 *   resume token when the stream breaks (so the hub keeps its tasks), and drains
 *   gracefully on stop().
 */
import * as grpc from '@grpc/grpc-js';
import { hiveProto } from '../proto.js';

type Msg = Record<string, unknown>;

export interface TaskInput {
  title: string;
  description?: string;
  type?: string;
  priority?: 'low' | 'medium' | 'high' | 'critical';
  required_capabilities?: Array<{ name: string; min_proficiency: number }>;
  payload?: unknown;
  max_attempts?: number;
  timeout_ms?: number;
  run_at?: string;
  depends_on?: string[];
  idempotency_key?: string;
  /** Flow control (docs/flow-control.md): at most 8 keys, the tenant, the estimate by unit. */
  concurrency_keys?: string[];
  fairness_key?: string;
  cost?: Record<string, number>;
}

function toProtoTask(t: TaskInput): Msg {
  return { ...t, payload_json: t.payload === undefined ? '' : JSON.stringify(t.payload), payload: undefined };
}

function unaryCall<T>(client: grpc.Client, method: string, req: Msg, deadlineMs: number): Promise<T> {
  const fn = (
    client as unknown as Record<
      string,
      (r: Msg, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: T) => void) => void
    >
  )[method];
  if (fn === undefined) return Promise.reject(new Error(`no method ${method}`));
  return new Promise((resolve, reject) =>
    fn.call(client, req, { deadline: Date.now() + deadlineMs }, (err, value) => (err ? reject(err) : resolve(value))),
  );
}

/** Credentials for a hub with security on: an API key, or an access token from POST /auth/login. */
export interface HubAuth {
  apiKey?: string | undefined;
  token?: string | undefined;
}

/** Adds the credentials to every call's metadata. */
function authInterceptor(auth: HubAuth): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        if (auth.apiKey !== undefined) metadata.set('x-api-key', auth.apiKey);
        if (auth.token !== undefined) metadata.set('authorization', `Bearer ${auth.token}`);
        next(metadata, listener);
      },
    });
}

function clientOptions(auth: HubAuth | undefined): grpc.ClientOptions {
  return auth === undefined || (auth.apiKey === undefined && auth.token === undefined)
    ? {}
    : { interceptors: [authInterceptor(auth)] };
}

export class HiveClient {
  private readonly client: grpc.Client;

  constructor(
    address: string,
    private readonly deadlineMs = 10_000,
    credentials = grpc.credentials.createInsecure(),
    auth?: HubAuth,
  ) {
    this.client = new (hiveProto().HiveServiceClient)(address, credentials, clientOptions(auth));
  }

  submitTask(task: TaskInput): Promise<{ task: Msg; created: boolean }> {
    return unaryCall(this.client, 'SubmitTask', { task: toProtoTask(task) }, this.deadlineMs);
  }

  submitTasks(tasks: TaskInput[]): Promise<{ tasks: Msg[]; created: number; deduplicated: number }> {
    return unaryCall(this.client, 'SubmitTasks', { tasks: tasks.map(toProtoTask) }, this.deadlineMs);
  }

  getTask(id: string): Promise<Msg> {
    return unaryCall(this.client, 'GetTask', { id }, this.deadlineMs);
  }

  /** Why the task is not running: `{task_id, status, code, message, details}` (details parsed from details_json). */
  async explainTask(
    id: string,
  ): Promise<{ task_id: string; status: string; code: string; message: string; details: Msg }> {
    const e = await unaryCall<Msg>(this.client, 'ExplainTask', { id }, this.deadlineMs);
    return {
      task_id: String(e['task_id']),
      status: String(e['status']),
      code: String(e['code']),
      message: String(e['message']),
      details: JSON.parse(
        typeof e['details_json'] === 'string' && e['details_json'] !== '' ? e['details_json'] : '{}',
      ) as Msg,
    };
  }

  listTasks(
    filter: {
      status?: string;
      priority?: string;
      agent_id?: string;
      capability?: string;
      limit?: number;
      offset?: number;
    } = {},
  ): Promise<{ tasks: Msg[]; total: number }> {
    return unaryCall(this.client, 'ListTasks', filter, this.deadlineMs);
  }

  cancelTask(id: string, reason = ''): Promise<Msg> {
    return unaryCall(this.client, 'CancelTask', { id, reason }, this.deadlineMs);
  }

  listAgents(
    filter: { state?: string; kind?: string; capability?: string; limit?: number } = {},
  ): Promise<{ agents: Msg[]; total: number }> {
    return unaryCall(this.client, 'ListAgents', filter, this.deadlineMs);
  }

  hiveStatus(): Promise<Msg> {
    return unaryCall(this.client, 'GetHiveStatus', {}, this.deadlineMs);
  }

  /** Calls onEvent for each matching task event until the returned function is called. */
  watchTasks(
    onEvent: (event: { type: string; task: Msg; timestamp: string }) => void,
    filter: { types?: string[]; task_ids?: string[] } = {},
  ): () => void {
    const call = (
      this.client as unknown as {
        WatchTasks: (r: Msg) => grpc.ClientReadableStream<{ type: string; task: Msg; timestamp: string }>;
      }
    ).WatchTasks(filter);
    call.on('data', onEvent);
    call.on('error', () => undefined);
    return () => call.cancel();
  }

  close(): void {
    this.client.close();
  }
}

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
}

export interface AgentContext {
  signal: AbortSignal;
  /** What the task used so far, by unit (e.g. `{tokens: 512}`); the last report goes with the result and settles the task's reservation. */
  reportUsage(usage: Record<string, number>): void;
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
    payload: JSON.parse(
      typeof t['payload_json'] === 'string' && t['payload_json'] !== '' ? t['payload_json'] : 'null',
    ) as unknown,
    attempt: Number(t['attempts']),
    timeout_ms: Number(t['timeout_ms']),
  };
}

/** A handler's outcome as a TaskResult. */
async function resultOf(handler: AgentHandler, task: AgentTask, signal: AbortSignal): Promise<Msg> {
  let usage: Record<string, number> = {};
  const ctx: AgentContext = { signal, reportUsage: (u) => (usage = { ...u }) };
  try {
    const output = await handler(task, ctx);
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
    } else if (m['rejected'] !== undefined) {
      const r = m['rejected'] as Msg;
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
      .then(() => resultOf(this.handler, task, controller.signal))
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
    queueMicrotask(() => {
      const batch = this.results;
      this.results = [];
      this.stream?.write(batch.length === 1 ? { result: batch[0] } : { results: { results: batch } });
    });
  }
}
