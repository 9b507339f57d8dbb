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

export const PAGING = {
  limit: { kind: 'int', min: 1, max: 1000 },
  offset: { kind: 'int', min: 0, max: 100_000_000 },
} as const satisfies Record<string, ParamSpec>;

/** A path id that must be a UUID. */
export function pathId(params: Readonly<Record<string, string>>, name = 'id'): string {
  return parseOne(name, params[name] ?? '', { kind: 'uuid' }) as string;
}
