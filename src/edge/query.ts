/** Query-string validation: every parameter known, typed and bounded; errors name the parameter. */
import { HubError } from '../errors/index.js';
import { isUuid } from '../storage/index.js';

export type ParamSpec =
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'bool' }
  | { kind: 'name' }
  | { kind: 'uuid' };

function bad(name: string, message: string): HubError {
  return new HubError('VALIDATION_FAILED', `${name}: ${message}`, { details: { field: name } });
}

const NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/i;

function parseOne(name: string, value: string, spec: ParamSpec): string | number | boolean {
  switch (spec.kind) {
    case 'enum':
      if (!spec.values.includes(value))
        throw bad(name, `expected one of ${spec.values.join(', ')}, got ${JSON.stringify(value)}`);
      return value;
    case 'int': {
      const n = /^-?\d{1,16}$/.test(value) ? Number(value) : NaN;
      if (!Number.isInteger(n) || n < spec.min || n > spec.max)
        throw bad(name, `expected an integer from ${spec.min} to ${spec.max}, got ${JSON.stringify(value)}`);
      return n;
    }
    case 'bool':
      if (value !== 'true' && value !== 'false')
        throw bad(name, `expected true or false, got ${JSON.stringify(value)}`);
      return value === 'true';
    case 'name':
      if (!NAME.test(value)) throw bad(name, 'expected a name (letters, digits, _ . -; at most 64 characters)');
      return value;
    case 'uuid':
      if (!isUuid(value)) throw bad(name, `expected a UUID, got ${JSON.stringify(value.slice(0, 64))}`);
      return value.toLowerCase();
  }
}

/**
 * Decodes a query for an operation of src/api, which validates the values: a
 * query string has no schema, so unknown and repeated parameters are refused
 * here; `int` parameters that look like integers become numbers (anything else
 * stays a string, for the API to refuse with its own message).
 */
export function decodeQuery(
  query: URLSearchParams,
  spec: Readonly<Record<string, 'string' | 'int'>>,
): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [name, value] of query) {
    const kind = spec[name];
    if (kind === undefined) throw bad(name, `unknown query parameter; known: ${Object.keys(spec).join(', ')}`);
    if (name in out) throw bad(name, 'given more than once');
    out[name] = kind === 'int' && /^-?\d{1,16}$/.test(value) ? Number(value) : value;
  }
  return out;
}

/** Parses the query against a spec; unknown or repeated parameters are refused. */
export function parseQuery<S extends Record<string, ParamSpec>>(
  query: URLSearchParams,
  spec: S,
): { [K in keyof S]?: S[K] extends { kind: 'int' } ? number : S[K] extends { kind: 'bool' } ? boolean : string } {
  const out: Record<string, string | number | boolean> = {};
  for (const [name, value] of query) {
    const s = spec[name];
    if (s === undefined) {
      const known = Object.keys(spec);
      throw bad(name, `unknown query parameter${known.length > 0 ? `; known: ${known.join(', ')}` : ''}`);
    }
    if (name in out) throw bad(name, 'given more than once');
    out[name] = parseOne(name, value, s);
  }
  return out as {
    [K in keyof S]?: S[K] extends { kind: 'int' } ? number : S[K] extends { kind: 'bool' } ? boolean : string;
  };
}

/** A path id that must be a UUID. */
export function pathId(params: Readonly<Record<string, string>>, name = 'id'): string {
  return parseOne(name, params[name] ?? '', { kind: 'uuid' }) as string;
}
