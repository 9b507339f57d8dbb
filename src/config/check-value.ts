import { describeSpec, type KeySpec } from './schema.js';
import { didYouMean } from './did-you-mean.js';

/** One configuration problem: where it came from, which key, what is wrong. */
export interface ConfigProblem {
  source: string;
  keyPath: string;
  message: string;
}

function typeName(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (value instanceof Date) return 'date';
  return typeof value;
}

function got(value: unknown): string {
  return `got ${JSON.stringify(value) ?? String(value)} (${typeName(value)})`;
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/**
 * Checks one value against its spec; returns the problems (empty when valid).
 * Nested tables (table_of) are checked key by key so every problem is named.
 */
export function checkValue(spec: KeySpec, value: unknown, keyPath: string, source: string): ConfigProblem[] {
  const bad = (): ConfigProblem[] => [{ source, keyPath, message: `expected ${describeSpec(spec)}, ${got(value)}` }];
  switch (spec.kind) {
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) && value >= spec.min && value <= spec.max
        ? []
        : bad();
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) && value >= spec.min && value <= spec.max ? [] : bad();
    case 'bool':
      return typeof value === 'boolean' ? [] : bad();
    case 'string':
      return typeof value === 'string' && (spec.allowEmpty || value.trim() !== '') ? [] : bad();
    case 'enum':
      return typeof value === 'string' && spec.values.includes(value) ? [] : bad();
    case 'string_list':
      return Array.isArray(value) && value.every((v) => typeof v === 'string') ? [] : bad();
    case 'table_of':
      return checkTableOf(spec.entry, value, keyPath, source, bad, spec.optional ?? []);
  }
}

function checkTableOf(
  entry: Readonly<Record<string, KeySpec>>,
  value: unknown,
  keyPath: string,
  source: string,
  bad: () => ConfigProblem[],
  optional: readonly string[],
): ConfigProblem[] {
  if (!isTable(value)) return bad();
  const problems: ConfigProblem[] = [];
  for (const [name, item] of Object.entries(value)) {
    problems.push(...checkTable(entry, item, `${keyPath}.${name}`, source, true, optional));
  }
  return problems;
}

/** Checks a table against a set of key specs: unknown keys, wrong values, and (optionally) missing keys. */
export function checkTable(
  specs: Readonly<Record<string, KeySpec>>,
  value: unknown,
  keyPath: string,
  source: string,
  requireAll: boolean,
  optional: readonly string[] = [],
): ConfigProblem[] {
  if (!isTable(value)) return [{ source, keyPath, message: `expected a table, ${got(value)}` }];
  const known = Object.keys(specs);
  const problems: ConfigProblem[] = [];
  for (const [key, v] of Object.entries(value)) {
    const spec = specs[key];
    if (spec === undefined) {
      const hint = didYouMean(key, known);
      problems.push({
        source,
        keyPath: `${keyPath}.${key}`,
        message: `unknown key${hint ? `; did you mean "${hint}"?` : ''}`,
      });
    } else {
      problems.push(...checkValue(spec, v, `${keyPath}.${key}`, source));
    }
  }
  if (requireAll) {
    for (const key of known) {
      if (!(key in value) && !optional.includes(key))
        problems.push({ source, keyPath: `${keyPath}.${key}`, message: 'missing required key' });
    }
  }
  return problems;
}

export { isTable };
