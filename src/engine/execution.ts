/** Execution: one attempt of a task on an agent, from its start to the end the writer stores. */
import { afterFailure, type Agent, type BackoffPolicy, type ProgressReport, type Task } from '../domain/index.js';
import type { Logger } from '../log/logger.js';
import type { TaskFinish } from '../storage/index.js';
import { FIT_WIDTH, fitCapabilities, writeFitFeatures } from '../neural/fit-features.js';
import { RunControl, execute, type Outcome, type RunContext } from './execute.js';
import { TaskFailure, type ExecutorTask, type Handler } from './handler.js';
import { RequeueReason } from './types.js';
import type { Sessions } from './sessions.js';

let lastMs = 0;
let lastIso = '';

/** The current time as ISO 8601, made once per millisecond (thousands of tasks end within one). */
export function nowIso(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/** An attempt in progress. */
export interface Running {
  task: Task;
  agentId: string;
  control: RunControl;
  startedAt: string;
  startedPerf: number;
  /** The pair's fit features when the attempt started (the neural processor learns from them). */
  fit?: number[] | undefined;
}

/** A new attempt of `task` on `agent`; with fit features when the fit model places tasks (it learns from them). */
export function newAttempt(task: Task, agent: Agent, running: number, withFit: boolean): Running {
  const r: Running = {
    task,
    agentId: agent.id,
    control: new RunControl(),
    startedAt: nowIso(),
    startedPerf: performance.now(),
  };
  if (withFit) {
    r.fit = new Array<number>(FIT_WIDTH);
    writeFitFeatures(
      agent,
      fitCapabilities(task.required_capabilities, task.inferred_capabilities),
      { running, capacity: agent.max_concurrency },
      r.fit,
    );
  }
  return r;
}

/** What an attempt's context reaches outside the engine: progress and children. */
export interface AttemptSinks {
  progress(task: Task, n: number, report: Partial<ProgressReport>): void;
  spawn(parent: Task, tasks: readonly unknown[]): Promise<Task[]>;
}

/** Runs the attempt's handler; resolves with its outcome (never rejects). */
export function runAttempt(
  r: Running,
  agent: Agent,
  handler: Handler,
  log: Logger,
  units: readonly string[],
  sinks: AttemptSinks,
): Promise<Outcome> {
  const task = r.task;
  const input: ExecutorTask = {
    id: task.id,
    title: task.title,
    description: task.description,
    type: task.type,
    priority: task.priority,
    payload: task.payload,
    attempt: task.attempts,
    timeout_ms: task.timeout_ms,
    parent_id: task.parent_id,
    checkpoint: task.checkpoint,
    resume: task.resume,
  };
  return execute(handler, input, new AttemptRun(task, agent, log, units, sinks), r.control);
}

/** An attempt's side of the handler context (one object per attempt; log made only if the handler logs). */
class AttemptRun implements RunContext {
  private reports = 0;
  readonly agent: { id: string; name: string };

  constructor(
    private readonly task: Task,
    agent: Agent,
    private readonly base: Logger,
    readonly units: readonly string[],
    private readonly sinks: AttemptSinks,
  ) {
    this.agent = { id: agent.id, name: agent.name };
  }

  get log(): Logger {
    return this.base.child({ task_id: this.task.id, agent_id: this.agent.id });
  }

  progress(report: Partial<ProgressReport>): void {
    this.sinks.progress(this.task, ++this.reports, report);
  }

  spawn(tasks: readonly unknown[]): Promise<Task[]> {
    return this.sinks.spawn(this.task, tasks);
  }
}

/** How an agent runs a task: a remote agent through its session, a local one through its executor of this node. */
export function handlerFor(
  agent: Agent,
  session: string | undefined,
  sessions: Sessions | undefined,
  handlers: ReadonlyMap<string, Handler>,
  defaultExecutor: string,
): Handler {
  if (session !== undefined) {
    const dispatcher = sessions?.dispatcher(session);
    if (dispatcher !== undefined) return dispatcher;
    return () => {
      throw new TaskFailure(`remote agent ${agent.name} has no connection to this node`, true, 'AGENT_UNREACHABLE');
    };
  }
  const handler = handlers.get(agent.executor ?? defaultExecutor);
  if (handler !== undefined) return handler;
  return () => {
    throw new TaskFailure(
      `agent ${agent.name} has executor "${agent.executor}", which this node does not have`,
      true,
      'EXECUTOR_MISSING',
    );
  };
}

/** The end to store for an attempt's outcome; undefined when storage already holds it (cancelled through the API). */
export function finishFor(r: Running, outcome: Outcome, backoff: BackoffPolicy): TaskFinish | undefined {
  const t = r.task;
  const usage = r.control.usage;
  if (outcome.kind === 'completed') {
    // The hot path (every completed task): one object, no spreads.
    const f: TaskFinish = {
      id: t.id,
      epoch: t.lease_epoch,
      agentId: r.agentId,
      startedAt: r.startedAt,
      status: 'completed',
      result: outcome.result,
      completedAt: nowIso(),
    };
    if (outcome.json !== undefined) f.resultJson = outcome.json;
    if (usage !== null) f.usage = usage;
    return f;
  }
  const base = {
    id: t.id,
    epoch: t.lease_epoch,
    agentId: r.agentId,
    startedAt: r.startedAt,
    ...(usage === null ? {} : { usage }),
  };
  const now = nowIso();
  switch (outcome.kind) {
    case 'wait':
      return { ...base, status: 'waiting', completedAt: null, wait: outcome.wait };
    case 'cancelled': {
      // Cancelled through the API: storage already says so. Aborted to requeue: back to pending now.
      const reason: unknown = r.control.reason;
      if (!(reason instanceof RequeueReason)) return undefined;
      return { ...base, status: 'pending', completedAt: null, runAt: null, detail: { reason: reason.message } };
    }
    case 'failed': {
      const next = afterFailure(backoff, outcome.error.retryable, t.attempts, t.max_attempts);
      const detail = { code: outcome.error.code, attempt: t.attempts, max_attempts: t.max_attempts };
      if (next.action === 'retry') {
        return {
          ...base,
          status: 'pending',
          error: outcome.error,
          completedAt: null,
          runAt: new Date(Date.now() + next.delayMs).toISOString(),
          detail: { ...detail, reason: 'retry', delay_ms: next.delayMs },
        };
      }
      return { ...base, status: next.action, error: outcome.error, completedAt: now, detail };
    }
  }
}
