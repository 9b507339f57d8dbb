/**
 * Why a task is not running (GET /api/tasks/:id/explain): one stable code and
 * a sentence, from facts the caller gathered (the task, its dependencies, the
 * agents of every node, how many ready tasks the claim takes first). Pure: the
 * table-driven test runs each cause through it.
 */
import type { Agent } from './agent.js';
import { missingCapability } from './capability.js';
import type { RequiredCapability, Task } from './task.js';
import { isTerminal, type TaskStatus } from './task-state.js';
import { APPROVAL_SIGNAL } from './workflow.js';
import type { KeyBlock } from './flow-plan.js';

export const WAIT_CODES = [
  'RUNNING',
  'FINISHED',
  'WAITING_FOR_TIMER',
  'WAITING_FOR_SIGNAL',
  'WAITING_FOR_APPROVAL',
  'WAITING_FOR_CHILDREN',
  'WAITING_FOR_DEPENDENCIES',
  'SCHEDULED',
  'RETRY_BACKOFF',
  'RELEASED',
  'NO_CAPABLE_AGENT',
  'CAPABLE_AGENTS_UNAVAILABLE',
  'CONCURRENCY_LIMIT',
  'RATE_LIMITED',
  'BUDGET_EXHAUSTED',
  'FAIR_SHARE',
  'READY',
] as const;
export type WaitCode = (typeof WAIT_CODES)[number];

export interface Explanation {
  task_id: string;
  status: TaskStatus;
  code: WaitCode;
  message: string;
  /** What the code refers to (which dependencies, which requirement, until when, how many ahead). */
  details: Record<string, unknown>;
}

export interface ExplainFacts {
  task: Task;
  /** Its dependencies and their statuses (`missing`: the row is gone). */
  dependencies: ReadonlyArray<{ id: string; status: TaskStatus | 'missing' }>;
  /** The agents of every node. */
  agents: readonly Agent[];
  /** Its recorded events, oldest first (a release or a retry set its run_at). */
  events: ReadonlyArray<{
    from_status: TaskStatus | null;
    to_status: TaskStatus;
    node_id: string | null;
    detail: unknown;
  }>;
  /** Ready pending tasks the claim takes before this one (priority, then submission order); undefined: not counted (lists). */
  ahead?: number | undefined;
  /** The key whose flow rule holds it back now, if any (`ahead`: its ready tasks that come first). */
  flow?: (KeyBlock & { ahead?: number }) | undefined;
  /** Its tenant's place in fair-share order, when several tenants have ready work. */
  fair?: FairPosition | undefined;
  now: number;
}

export interface FairPosition {
  tenant: string;
  weight: number;
  /** 1: its tenant is served next. */
  position: number;
  tenants: number;
}

/** An agent that can be given work now: not paused, not failed, not offline. */
function takesWork(a: Agent): boolean {
  return !a.paused && a.state !== 'failed' && a.state !== 'offline';
}

/** For each requirement no agent meets, the best proficiency any agent has for it (null: none has it). */
interface Unmet {
  capability: string;
  min_proficiency: number;
  best_proficiency: number | null;
}

function unmet(agents: readonly Agent[], required: readonly RequiredCapability[]): Unmet[] {
  return required
    .filter((r) => agents.every((a) => missingCapability(a, [r]) !== undefined))
    .map((r) => {
      const best = Math.max(-1, ...agents.map((a) => a.capabilities.find((c) => c.name === r.name)?.proficiency ?? -1));
      return { capability: r.name, min_proficiency: r.min_proficiency, best_proficiency: best < 0 ? null : best };
    });
}

function describeUnmet(u: Unmet[]): string {
  return u
    .map((x) =>
      x.best_proficiency === null
        ? `"${x.capability}" (no agent has it)`
        : `"${x.capability}" at proficiency >= ${x.min_proficiency} (the best agent has ${x.best_proficiency})`,
    )
    .join(', ');
}

export function explainTask(f: ExplainFacts): Explanation {
  const t = f.task;
  const base = { task_id: t.id, status: t.status };
  if (t.status === 'assigned' || t.status === 'running')
    return {
      ...base,
      code: 'RUNNING',
      message: `the task is ${t.status} on agent ${t.assigned_agent ?? '(none)'} of node ${t.lease_owner ?? '(none)'}`,
      details: { agent_id: t.assigned_agent, node_id: t.lease_owner, started_at: t.started_at },
    };
  if (t.status === 'waiting') return explainWaiting(t, base);
  if (isTerminal(t.status))
    return {
      ...base,
      code: 'FINISHED',
      message: `the task is ${t.status}; it will not run again unless retried`,
      details: {},
    };
  return explainPending(f, base);
}

/** A waiting task (docs/workflows.md): what it waits for, and until when. */
function explainWaiting(t: Task, base: { task_id: string; status: TaskStatus }): Explanation {
  const w = t.wait_for;
  const until =
    t.wake_at === null ? '' : w?.kind === 'timer' ? ` until ${t.wake_at}` : ` (it times out at ${t.wake_at})`;
  const details = { wait_for: w, wake_at: t.wake_at };
  if (w?.kind === 'signal' && w.signal === APPROVAL_SIGNAL)
    return { ...base, code: 'WAITING_FOR_APPROVAL', message: `it waits for a person's approval${until}`, details };
  if (w?.kind === 'signal')
    return { ...base, code: 'WAITING_FOR_SIGNAL', message: `it waits for the signal "${w.signal}"${until}`, details };
  if (w?.kind === 'children')
    return {
      ...base,
      code: 'WAITING_FOR_CHILDREN',
      message: `it waits for ${w.children} of its children${until}`,
      details,
    };
  return { ...base, code: 'WAITING_FOR_TIMER', message: `it sleeps${until}`, details };
}

function explainPending(f: ExplainFacts, base: { task_id: string; status: TaskStatus }): Explanation {
  const t = f.task;
  const open = f.dependencies.filter((d) => d.status !== 'completed');
  if (open.length > 0)
    return {
      ...base,
      code: 'WAITING_FOR_DEPENDENCIES',
      message: `waiting for ${open.length} of its ${f.dependencies.length} dependencies to complete: ${open.map((d) => `${d.id} (${d.status})`).join(', ')}`,
      details: { waiting_for: open },
    };
  if (t.run_at !== null && Date.parse(t.run_at) > f.now) return waitingForRunAt(f, base, t.run_at);
  const capable = f.agents.filter((a) => missingCapability(a, t.required_capabilities) === undefined);
  if (capable.length === 0) {
    const u = unmet(f.agents, t.required_capabilities);
    return {
      ...base,
      code: 'NO_CAPABLE_AGENT',
      message: `no agent meets its requirements: ${describeUnmet(u)}; register or connect one that has them`,
      details: { unmet: u },
    };
  }
  const working = capable.filter(takesWork);
  if (working.length === 0) {
    const states = capable.map((a) => ({ agent_id: a.id, name: a.name, state: a.state, paused: a.paused }));
    return {
      ...base,
      code: 'CAPABLE_AGENTS_UNAVAILABLE',
      message: `every agent that can run it is paused, failed or offline: ${capable.map((a) => `${a.name} (${a.paused ? 'paused' : a.state})`).join(', ')}`,
      details: { capable_agents: states },
    };
  }
  if (f.flow !== undefined) return explainFlow(base, f.flow);
  if (f.fair !== undefined && f.fair.tenants > 1 && f.fair.position > 1) {
    const { tenant, weight, position, tenants } = f.fair;
    return {
      ...base,
      code: 'FAIR_SHARE',
      message: `ready, waiting its tenant's turn: tenant "${tenant || '(default)'}" (weight ${weight}) is ${position} of ${tenants} tenants with ready work in fair-share order`,
      details: { ...f.fair, capable_agents: working.length },
    };
  }
  const message = 'ready: it is claimed when an agent that can run it is free';
  if (f.ahead === undefined) return { ...base, code: 'READY', message, details: { capable_agents: working.length } };
  return {
    ...base,
    code: 'READY',
    message: `${message}; ${f.ahead} ready tasks come first in claim order (priority, then submission)`,
    details: { ahead: f.ahead, capable_agents: working.length },
  };
}

/** A run_at in the future: a retry's backoff, a release by a node that could not place it, or the submitter's schedule. */
function waitingForRunAt(f: ExplainFacts, base: { task_id: string; status: TaskStatus }, runAt: string): Explanation {
  const t = f.task;
  const details = { run_at: runAt, seconds_left: Math.ceil((Date.parse(runAt) - f.now) / 1000) };
  const last = f.events[f.events.length - 1];
  const reason = (last?.detail as { reason?: unknown } | null | undefined)?.reason;
  if (last?.to_status === 'pending' && last.from_status !== null && reason === 'retry' && t.error !== null)
    return {
      ...base,
      code: 'RETRY_BACKOFF',
      message: `attempt ${t.attempts} failed (${t.error.code}); the retry waits for its backoff until ${runAt}`,
      details,
    };
  if (last?.to_status === 'pending' && (last.from_status === 'assigned' || last.from_status === 'running'))
    return {
      ...base,
      code: 'RELEASED',
      message: `node ${last.node_id ?? '(unknown)'} claimed it and gave it back (${typeof reason === 'string' ? reason : 'released'}); it can be claimed again at ${runAt}`,
      details: { ...details, node_id: last.node_id, reason },
    };
  return { ...base, code: 'SCHEDULED', message: `scheduled: it runs at ${runAt}`, details };
}

/** The code and sentence for a key that holds a task back (the pending view, history and /ws say the same). */
export function flowWaiting(b: KeyBlock): { code: WaitCode; message: string } {
  const e = explainFlow({ task_id: '', status: 'pending' }, b);
  return { code: e.code, message: e.message };
}

/** A key's concurrency limit, rate limit or budget holds the task back. */
function explainFlow(base: { task_id: string; status: TaskStatus }, b: KeyBlock & { ahead?: number }): Explanation {
  const until = b.until === undefined ? null : new Date(b.until).toISOString();
  const details: Record<string, unknown> = { ...b, until };
  if (b.code === 'CONCURRENCY_LIMIT') {
    const ahead = b.ahead === undefined ? '' : `; ${b.ahead} of its waiting tasks come first`;
    return {
      ...base,
      code: b.code,
      message: `concurrency key "${b.key}" is at its limit: ${b.running} of ${b.limit} tasks hold it${ahead}`,
      details,
    };
  }
  if (b.code === 'RATE_LIMITED')
    return {
      ...base,
      code: b.code,
      message: `concurrency key "${b.key}" is rate limited; its next dispatch is possible at ${until}`,
      details,
    };
  return {
    ...base,
    code: b.code,
    message: `concurrency key "${b.key}" is out of budget (${b.bucket}: needs ${b.need}, holds ${b.level}); it holds enough at ${until}`,
    details,
  };
}
