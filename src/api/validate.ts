/**
 * The request contract, written once for every transport: ids, paging, filters,
 * reasons and bulk bounds. Transports decode their wire format into plain
 * values (undefined for absent) and the API checks them here; a refusal is
 * VALIDATION_FAILED naming the field, the same on REST and gRPC.
 */
import { invalid } from '../domain/index.js';
import { HubError } from '../errors/index.js';
import { isUuid } from '../storage/index.js';

/** Most items in one bulk request (submissions, redrive ids). */
export const MAX_BULK = 1000;
/** Longest reason an operator may give (cancel). */
export const MAX_REASON = 512;
export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;
const MAX_OFFSET = 100_000_000;
const NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/i;

export function uuid(value: unknown, field: string): string {
  if (typeof value !== 'string')
    throw invalid(field, value === undefined ? 'is required' : `expected a UUID string, got ${typeof value}`);
  if (!isUuid(value)) throw invalid(field, `expected a UUID, got ${JSON.stringify(value.slice(0, 64))}`);
  return value.toLowerCase();
}

export function optionalUuid(value: unknown, field: string): string | undefined {
  return value === undefined ? undefined : uuid(value, field);
}

export function oneOf<T extends string>(value: unknown, values: readonly T[], field: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value))
    throw invalid(field, `expected one of ${values.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

/** A name (capability, executor): letters, digits, _ . -; at most 64 characters. */
export function optionalName(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !NAME.test(value))
    throw invalid(field, 'expected a name (letters, digits, _ . -; at most 64 characters)');
  return value;
}

export function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw invalid(field, `expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return value;
}

export function paging(limit: unknown, offset: unknown): { limit: number; offset: number } {
  return {
    limit: limit === undefined ? DEFAULT_LIMIT : integer(limit, 'limit', 1, MAX_LIMIT),
    offset: offset === undefined ? 0 : integer(offset, 'offset', 0, MAX_OFFSET),
  };
}

/** An operator's reason: a string of at most MAX_REASON characters; `fallback` when absent or empty. */
export function reason(value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length > MAX_REASON)
    throw invalid('reason', `expected a string of at most ${MAX_REASON} characters`);
  return value === '' ? fallback : value;
}

/** 1 to MAX_BULK items. */
export function bulk(value: unknown, field: string, what: string): unknown[] {
  if (!Array.isArray(value)) throw invalid(field, `expected an array of ${what}`);
  if (value.length === 0 || value.length > MAX_BULK)
    throw invalid(field, `expected 1 to ${MAX_BULK} ${what}, got ${value.length}`);
  return value;
}

/** A JSON object with only these fields (absent: an empty object, unless required). */
export function fields(body: unknown, allowed: readonly string[], required = false): Record<string, unknown> {
  if (body === undefined && !required) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('(body)', 'expected a JSON object');
  for (const k of Object.keys(body)) if (!allowed.includes(k)) throw invalid(k, 'unknown field');
  return body as Record<string, unknown>;
}

/** Runs a parse of a nested part; its refusal names `<prefix>.<field>` (a bulk item, a schedule's template). */
export function underField<T>(prefix: string, parse: () => T, details: Record<string, unknown> = {}): T {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof HubError) || err.code !== 'VALIDATION_FAILED') throw err;
    const inner = err.details?.['field'];
    const field = `${prefix}.${typeof inner === 'string' ? inner : ''}`;
    throw new HubError('VALIDATION_FAILED', `${prefix}.${err.message}`, { details: { field, ...details } });
  }
}
