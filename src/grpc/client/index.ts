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
import { clientOptions, toProtoTask, type HubAuth, type TaskInput } from './common.js';

export { toProtoTask, clientOptions, type HubAuth, type TaskInput } from './common.js';

type Msg = Record<string, unknown>;

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

  /** Delivers a signal (kept until the task waits for it); answers the task. */
  signalTask(id: string, name: string, payload?: unknown): Promise<Msg> {
    const payload_json = payload === undefined ? '' : JSON.stringify(payload);
    return unaryCall(this.client, 'SignalTask', { id, name, payload_json }, this.deadlineMs);
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

export {
  runAgent,
  type AgentTask,
  type AgentContext,
  type AgentHandler,
  type AgentOptions,
  type RunningAgent,
} from './agent.js';
