/**
 * Workflows (docs/workflows.md), the pure part: how an attempt or a submission
 * says what a task waits for, what wakes it, what a parent does when its
 * children end, and the limits on checkpoints, signals and progress.
 */
import { checkJsonValue } from './json-value.js';
import { asInput, invalid, type Input } from './validate.js';
import type { TaskStatus } from './task-state.js';

/** The longest a task may wait or sleep: a year and a day. */
export const MAX_WAIT_MS = 366 * 86_400_000;
/** The largest checkpoint, as JSON text. */
export const MAX_CHECKPOINT_BYTES = 256 * 1024;
/** The largest signal payload, as JSON text. */
export const MAX_SIGNAL_BYTES = 64 * 1024;
/** The signal an approval or a rejection delivers (POST /api/tasks/:id/approve | reject). */
export const APPROVAL_SIGNAL = 'approval';

export const CHILD_MODES = ['all', 'any'] as const;
export type ChildMode = (typeof CHILD_MODES)[number];
/** What a parent waiting for its children does when one fails: fail too, run the child again, or go on. */
export const CHILD_FAILURE_POLICIES = ['fail', 'retry', 'ignore'] as const;
export type ChildFailurePolicy = (typeof CHILD_FAILURE_POLICIES)[number];

/** What a waiting task waits for, as stored (tasks.wait_for); wake_at holds the time (a timer's, or a timeout's). */
export type WaitFor =
  | { kind: 'timer' }
  | { kind: 'signal'; signal: string; timeout_ms: number | null }
  | {
      kind: 'children';
      children: ChildMode;
      on_child_failure: ChildFailurePolicy;
      /** How often a failed child is run again under the retry policy before the parent fails. */
      child_retries: number;
      timeout_ms: number | null;
    };

/** A wait with its wake time resolved. */
export interface WaitSpec {
  wait_for: WaitFor;
  /** When the timer fires or the wait times out (ISO 8601); null: no timeout. */
  wake_at: string | null;
}

/** An attempt's request to wait, with the state it hands to its next attempt. */
export interface WaitRequest extends WaitSpec {
  checkpoint: unknown;
}

/** What woke a task: handed to its next attempt (ExecutorTask.resume). */
export interface Resume {
  reason: 'timer' | 'signal' | 'children' | 'timeout';
  at: string;
  signal?: { name: string; payload: unknown; sent_by: string | null };
  children?: ChildOutcome[];
}

export interface ChildOutcome {
  id: string;
  title: string;
  status: TaskStatus;
  result: unknown;
  error: { code: string; message: string; retryable: boolean } | null;
}

const SIGNAL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/** A signal's name: letters, digits, _ . : -; at most 64 characters. */
export function signalName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !SIGNAL_NAME.test(value))
    throw invalid(field, 'expected a signal name (letters, digits, _ . : -; at most 64 characters)');
  return value;
}

function waitMs(value: unknown, field: string, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_WAIT_MS)
    throw invalid(field, `expected an integer of milliseconds from ${min} to ${MAX_WAIT_MS}`);
  return value;
}

function optionalTimeout(input: Input, field: string): number | null {
  const v = input['timeout_ms'];
  return v === undefined || v === null ? null : waitMs(v, `${field}.timeout_ms`);
}

function later(now: number, ms: number | null): string | null {
  return ms === null ? null : new Date(now + ms).toISOString();
}

/**
 * A wait as a submission gives it (`wait_for`): a signal or an approval, with an
 * optional timeout. Children and timers are an attempt's to ask for (a task
 * submitted to start later has run_at).
 */
export function parseSubmittedWait(value: unknown, now: number): WaitSpec | null {
  if (value === undefined || value === null) return null;
  const input = asInput(value, 'wait_for', ['signal', 'approval', 'timeout_ms', 'children']);
  if (input['children'] !== undefined)
    throw invalid('wait_for.children', 'only a running attempt can wait for its children (it creates them first)');
  return signalWait(input, 'wait_for', now);
}

function signalWait(input: Input, field: string, now: number): WaitSpec {
  const approval = input['approval'];
  if (approval !== undefined && approval !== true) throw invalid(`${field}.approval`, 'expected true');
  if (approval === true && input['signal'] !== undefined)
    throw invalid(`${field}.signal`, 'give either signal or approval, not both');
  const signal = approval === true ? APPROVAL_SIGNAL : signalName(input['signal'], `${field}.signal`);
  const timeout = optionalTimeout(input, field);
  return { wait_for: { kind: 'signal', signal, timeout_ms: timeout }, wake_at: later(now, timeout) };
}

/**
 * The wait an attempt ends with (`{sleep_ms} | {until} | {signal | approval,
 * timeout_ms?} | {children, on_child_failure?, child_retries?, timeout_ms?}`,
 * plus `checkpoint`), from any transport.
 */
export function parseWaitRequest(value: unknown, field: string, now: number): WaitRequest {
  const input = asInput(value, field, [
    'sleep_ms',
    'until',
    'signal',
    'approval',
    'children',
    'on_child_failure',
    'child_retries',
    'timeout_ms',
    'checkpoint',
  ]);
  const checkpoint = parseCheckpoint(input['checkpoint'], `${field}.checkpoint`);
  const kinds = ['sleep_ms', 'until', 'signal', 'approval', 'children'].filter((k) => input[k] !== undefined);
  if (kinds.length === 0) throw invalid(field, 'expected one of sleep_ms, until, signal, approval or children');
  const spec = waitOf(input, field, now, kinds);
  return { ...spec, checkpoint };
}

function waitOf(input: Input, field: string, now: number, kinds: string[]): WaitSpec {
  if (kinds.length > 1 && !(kinds.length === 2 && kinds.includes('signal') && kinds.includes('approval')))
    throw invalid(field, `give one kind of wait, not ${kinds.join(' and ')}`);
  if (input['sleep_ms'] !== undefined) {
    const ms = waitMs(input['sleep_ms'], `${field}.sleep_ms`, 0);
    return { wait_for: { kind: 'timer' }, wake_at: new Date(now + ms).toISOString() };
  }
  if (input['until'] !== undefined) return { wait_for: { kind: 'timer' }, wake_at: untilOf(input, field, now) };
  if (input['children'] !== undefined) return childrenWait(input, field, now);
  return signalWait(input, field, now);
}

function untilOf(input: Input, field: string, now: number): string {
  const v = input['until'];
  const at = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isNaN(at)) throw invalid(`${field}.until`, 'expected an ISO 8601 timestamp');
  if (at - now > MAX_WAIT_MS) throw invalid(`${field}.until`, 'must be at most a year and a day ahead');
  return new Date(at).toISOString();
}

function childrenWait(input: Input, field: string, now: number): WaitSpec {
  const mode = input['children'];
  if (!(CHILD_MODES as readonly unknown[]).includes(mode))
    throw invalid(`${field}.children`, `expected one of ${CHILD_MODES.join(', ')}`);
  const policy = input['on_child_failure'] ?? 'fail';
  if (!(CHILD_FAILURE_POLICIES as readonly unknown[]).includes(policy))
    throw invalid(`${field}.on_child_failure`, `expected one of ${CHILD_FAILURE_POLICIES.join(', ')}`);
  const retries = input['child_retries'] ?? 1;
  if (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0 || retries > 10)
    throw invalid(`${field}.child_retries`, 'expected an integer from 0 to 10');
  const timeout = optionalTimeout(input, field);
  return {
    wait_for: {
      kind: 'children',
      children: mode as ChildMode,
      on_child_failure: policy as ChildFailurePolicy,
      child_retries: retries,
      timeout_ms: timeout,
    },
    wake_at: later(now, timeout),
  };
}

function jsonBytes(value: unknown, field: string, max: number): unknown {
  const v = checkJsonValue(value ?? null, field);
  const size = Buffer.byteLength(JSON.stringify(v));
  if (size > max) throw invalid(field, `must be at most ${max} bytes as JSON (it is ${size})`);
  return v;
}

/** A checkpoint: JSON, at most MAX_CHECKPOINT_BYTES. */
export function parseCheckpoint(value: unknown, field = 'checkpoint'): unknown {
  return jsonBytes(value, field, MAX_CHECKPOINT_BYTES);
}

/** A signal's payload: JSON, at most MAX_SIGNAL_BYTES. */
export function parseSignalPayload(value: unknown, field = 'payload'): unknown {
  return jsonBytes(value, field, MAX_SIGNAL_BYTES);
}

/** How a task's children stand, as a parent's wait needs them. */
export interface ChildCounts {
  total: number;
  completed: number;
  /** Ended failed, dead or cancelled. */
  failed: number;
  /** Failed children that the retry policy may still run again. */
  retryable: number;
}

export type ChildVerdict = 'wait' | 'wake' | 'fail' | 'retry';

/**
 * What a parent waiting for its children does now. `all`: wakes when every
 * child ended; `any`: when one completed (or ended, under ignore). A failed
 * child fails the parent (fail), is run again while retries last (retry, then
 * fail), or counts as ended (ignore).
 */
export function childVerdict(w: Extract<WaitFor, { kind: 'children' }>, c: ChildCounts): ChildVerdict {
  if (c.total === 0) return 'wake';
  if (c.failed > 0 && w.on_child_failure !== 'ignore') {
    if (w.on_child_failure === 'retry' && c.retryable === c.failed) return 'retry';
    return 'fail';
  }
  const ended = c.completed + c.failed;
  if (w.children === 'any') return c.completed > 0 || (ended > 0 && w.on_child_failure === 'ignore') ? 'wake' : 'wait';
  return ended === c.total ? 'wake' : 'wait';
}

/** The event a workflow step publishes for a task it changed besides the one it was about (a woken parent, a cancelled child). */
export function changeEvent(t: { status: TaskStatus; resume: Resume | null; error: { code: string } | null }): string {
  if (t.status === 'pending')
    return t.resume !== null && t.error?.code !== 'WAIT_TIMEOUT' ? 'task.resumed' : 'task.retrying';
  return `task.${t.status}`;
}
