/**
 * What a stored JSON value may hold, the same for both engines and every transport:
 * PostgreSQL's jsonb refuses U+0000, and deep nesting overflows recursive encoders
 * (JSON.stringify, the SQLite and pg drivers) on the way to storage. Checked at the
 * edge, so that such a value is refused with the field named instead of failing a
 * batch it shares with others.
 */
import { invalid } from './validate.js';

/** Deepest nesting of arrays and objects in a payload or a result. */
export const MAX_JSON_DEPTH = 64;

const NUL = '\u0000';

/** Refuses a string holding U+0000 (no engine stores it as text). */
export function checkNoNul(value: string, field: string): string {
  if (value.includes(NUL)) throw invalid(field, 'must not contain the NUL character (U+0000)');
  return value;
}

/**
 * Checks a parsed JSON value without recursion: no NUL in any string or key, and
 * nesting at most MAX_JSON_DEPTH. The error names the path of the first offence
 * (`payload.items[3].name`).
 */
export function checkJsonValue(value: unknown, field: string): unknown {
  const stack: Array<{ v: unknown; path: string; depth: number }> = [{ v: value, path: field, depth: 0 }];
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      checkNoNul(v, path);
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= MAX_JSON_DEPTH) throw invalid(path, `nesting deeper than ${MAX_JSON_DEPTH} levels`);
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: `${path}[${i}]`, depth: depth + 1 });
      continue;
    }
    for (const [k, child] of Object.entries(v)) {
      checkNoNul(k, `${path} (a key)`);
      stack.push({ v: child, path: `${path}.${k}`, depth: depth + 1 });
    }
  }
  return value;
}
