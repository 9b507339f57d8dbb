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

/** Each parameter in order, refusing one the spec does not know or one given twice (a query string has no schema). */
function eachParam(
  query: URLSearchParams,
  known: readonly string[],
  take: (name: string, value: string) => void,
): void {
  const seen = new Set<string>();
  for (const [name, value] of query) {
    if (!known.includes(name))
      throw bad(name, `unknown query parameter${known.length > 0 ? `; known: ${known.join(', ')}` : ''}`);
    if (seen.has(name)) throw bad(name, 'given more than once');
    seen.add(name);
    take(name, value);
  }
}

/**
 * Decodes a query for an operation of src/api, which validates the values:
 * `int` parameters that look like integers become numbers (anything else stays
 * a string, for the API to refuse with its own message).
 */
export function decodeQuery(
  query: URLSearchParams,
  spec: Readonly<Record<string, 'string' | 'int'>>,
): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  eachParam(query, Object.keys(spec), (name, value) => {
    out[name] = spec[name] === 'int' && /^-?\d{1,16}$/.test(value) ? Number(value) : value;
  });
  return out;
}

/** Parses the query against a spec: every value typed and bounded here (routes with no twin in src/api). */
export function parseQuery<S extends Record<string, ParamSpec>>(
  query: URLSearchParams,
  spec: S,
): { [K in keyof S]?: S[K] extends { kind: 'int' } ? number : S[K] extends { kind: 'bool' } ? boolean : string } {
  const out: Record<string, string | number | boolean> = {};
  eachParam(query, Object.keys(spec), (name, value) => (out[name] = parseOne(name, value, spec[name]!)));
  return out as {
    [K in keyof S]?: S[K] extends { kind: 'int' } ? number : S[K] extends { kind: 'bool' } ? boolean : string;
  };
}

/** A path id that must be a UUID. */
export function pathId(params: Readonly<Record<string, string>>, name = 'id'): string {
  return parseOne(name, params[name] ?? '', { kind: 'uuid' }) as string;
}
