/** Progress of a running task (docs/workflows.md): a percentage, a message, and a chunk of partial output. */
import { asInput, invalid } from './validate.js';

export interface ProgressLimits {
  /** The largest chunk, in bytes of UTF-8 ([workflows] progress_chunk_bytes). */
  chunkBytes: number;
}

/** One progress report as an agent sends it. */
export interface ProgressReport {
  percent: number | null;
  message: string | null;
  chunk: string | null;
}

/** A stored (or streamed) progress record: `seq` orders a task's records across its attempts. */
export interface ProgressRecord extends ProgressReport {
  task_id: string;
  seq: number;
  at: string;
}

export const MAX_PROGRESS_MESSAGE = 1024;

/** Checks a report from any transport; throws VALIDATION_FAILED naming the field. */
export function parseProgress(value: unknown, limits: ProgressLimits, field = 'progress'): ProgressReport {
  const input = asInput(value, field, ['percent', 'message', 'chunk']);
  const percent = input['percent'] ?? null;
  if (percent !== null && (typeof percent !== 'number' || !Number.isFinite(percent) || percent < 0 || percent > 100))
    throw invalid(`${field}.percent`, 'expected a number from 0 to 100');
  return {
    percent: percent,
    message: text(input['message'], `${field}.message`, MAX_PROGRESS_MESSAGE),
    chunk: chunkOf(input['chunk'], `${field}.chunk`, limits.chunkBytes),
  };
}

function text(v: unknown, field: string, max: number): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw invalid(field, 'expected a string');
  if (v.length > max) throw invalid(field, `must be at most ${max} characters`);
  if (v.includes('\u0000')) throw invalid(field, 'must not contain the NUL character (U+0000)');
  return v;
}

function chunkOf(v: unknown, field: string, maxBytes: number): string | null {
  const s = text(v, field, maxBytes);
  if (s !== null && Buffer.byteLength(s) > maxBytes) throw invalid(field, `must be at most ${maxBytes} bytes`);
  return s;
}

/** Attempts are fenced by their claim epoch: a record's seq is epoch × this + its number within the attempt. */
export const PROGRESS_PER_ATTEMPT = 1_000_000;
