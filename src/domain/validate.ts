import { HubError } from '../errors/index.js';

/** A record from untrusted input, checked field by field; errors name the field. */
export type Input = Record<string, unknown>;

/** Fails with VALIDATION_FAILED naming `field`. */
export function invalid(field: string, message: string): HubError {
  return new HubError('VALIDATION_FAILED', `${field}: ${message}`, { details: { field } });
}

/** Checks that `value` is a plain object with only the allowed keys. */
export function asInput(value: unknown, field: string, allowed: readonly string[]): Input {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(field, 'expected a JSON object');
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw invalid(field === '(body)' ? key : `${field}.${key}`, 'unknown field');
  }
  return value as Input;
}

export function str(
  input: Input,
  key: string,
  opts: { required: boolean; maxLength: number; fallback?: string },
): string {
  const v = input[key];
  if (v === undefined || v === null) {
    if (opts.required) throw invalid(key, 'is required');
    return opts.fallback ?? '';
  }
  if (typeof v !== 'string') throw invalid(key, `expected a string, got ${typeof v}`);
  if (opts.required && v.trim() === '') throw invalid(key, 'must not be empty');
  if (v.length > opts.maxLength) throw invalid(key, `must be at most ${opts.maxLength} characters`);
  if (v.includes('\u0000')) throw invalid(key, 'must not contain the NUL character (U+0000)');
  return v;
}

export function oneOf<T extends string>(input: Input, key: string, values: readonly T[], fallback: T): T {
  const v = input[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw invalid(key, `expected one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

export function int(input: Input, key: string, min: number, max: number, fallback: number): number {
  const v = input[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalid(key, `expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function unit(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw invalid(field, `expected a number from 0 to 1, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function list(input: Input, key: string, maxItems: number): unknown[] {
  const v = input[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(key, 'expected an array');
  if (v.length > maxItems) throw invalid(key, `must have at most ${maxItems} items`);
  return v;
}

const NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/i;

/** A capability name: letters, digits, _ . -; at most 64 characters. */
export function capabilityName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw invalid(field, 'expected a capability name (letters, digits, _ . -; at most 64 characters)');
  }
  return value;
}
