import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { SCHEMA, type KeySpec, type SectionName } from './schema.js';
import { checkTable, checkValue, isTable, type ConfigProblem } from './check-value.js';
import { didYouMean } from './did-you-mean.js';

export type Layer = Record<string, Record<string, unknown>>;

/** A path as the operator typed it or, for absolute paths under the cwd, relative to it. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}

/** Reads and parses one TOML file; syntax errors become a problem naming file, line and column. */
export function readTomlFile(file: string, problems: ConfigProblem[]): Record<string, unknown> | undefined {
  const source = displayPath(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    problems.push({ source, keyPath: '(file)', message: `cannot read configuration file (${code})` });
    return undefined;
  }
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split('\n')[0] ?? err.message;
      problems.push({
        source: `${source}:${err.line}:${err.column}`,
        keyPath: '(syntax)',
        message: `invalid TOML: ${first}`,
      });
    } else {
      problems.push({ source, keyPath: '(syntax)', message: `invalid TOML: ${String(err)}` });
    }
    return undefined;
  }
}

/** Checks a parsed layer section by section; returns only the valid parts. */
export function checkLayer(
  raw: Record<string, unknown>,
  source: string,
  requireAll: boolean,
  problems: ConfigProblem[],
): Layer {
  const sections = Object.keys(SCHEMA);
  const layer: Layer = {};
  for (const [name, value] of Object.entries(raw)) {
    if (!(name in SCHEMA)) {
      const hint = didYouMean(name, sections);
      const where = isTable(value) ? `section [${name}]` : `key "${name}" outside any section`;
      problems.push({ source, keyPath: name, message: `unknown ${where}${hint ? `; did you mean [${hint}]?` : ''}` });
      continue;
    }
    const specs: Readonly<Record<string, KeySpec>> = SCHEMA[name as SectionName];
    const found = checkTable(specs, value, name, source, requireAll);
    problems.push(...found);
    if (isTable(value)) layer[name] = keepValid(specs, value, name, found);
  }
  if (requireAll) {
    for (const name of sections)
      if (!(name in raw)) problems.push({ source, keyPath: name, message: 'missing section' });
  }
  return layer;
}

function keepValid(
  specs: Readonly<Record<string, KeySpec>>,
  value: Record<string, unknown>,
  section: string,
  found: ConfigProblem[],
): Record<string, unknown> {
  const badKeys = new Set(found.map((p) => p.keyPath.split('.').slice(0, 2).join('.')));
  return Object.fromEntries(
    Object.entries(value).filter(([k]) => specs[k] !== undefined && !badKeys.has(`${section}.${k}`)),
  );
}

/** Environment variables that start with HIVE_ but are not configuration keys. */
const NON_CONFIG_ENV = new Set(['HIVE_ENV', 'HIVE_SECURITY_ADMIN_PASSWORD', 'HIVE_URL', 'HIVE_TOKEN', 'HIVE_API_KEY']);

/** Turns HIVE_<SECTION>_<KEY> (and DATABASE_URL) variables into a layer, coercing by type. */
export function envLayer(env: Readonly<Record<string, string | undefined>>, problems: ConfigProblem[]): Layer {
  const layer: Layer = {};
  const put = (section: string, key: string, value: unknown): void => {
    layer[section] = { ...(layer[section] ?? {}), [key]: value };
  };
  const databaseUrl = env['DATABASE_URL'];
  if (databaseUrl !== undefined && databaseUrl !== '') put('database', 'url', databaseUrl);
  const names = Object.keys(env)
    .filter((n) => n.startsWith('HIVE_') && !NON_CONFIG_ENV.has(n))
    .sort();
  for (const name of names) {
    const target = envTarget(name);
    if (target === undefined) {
      problems.push({ source: `env ${name}`, keyPath: name, message: unknownEnvMessage(name) });
      continue;
    }
    const [section, key, spec] = target;
    const value = coerceEnv(spec, env[name] ?? '');
    const found = checkValue(spec, value, `${section}.${key}`, `env ${name}`);
    problems.push(...found);
    if (found.length === 0) put(section, key, value);
  }
  return layer;
}

function allEnvNames(): string[] {
  return Object.entries(SCHEMA).flatMap(([s, keys]) =>
    Object.entries(keys as Record<string, KeySpec>)
      .filter(([, spec]) => spec.kind !== 'table_of')
      .map(([k]) => `HIVE_${s}_${k}`.toUpperCase()),
  );
}

function unknownEnvMessage(name: string): string {
  const hint = didYouMean(name, allEnvNames());
  return `unknown configuration variable${hint ? `; did you mean ${hint}?` : ''}`;
}

function envTarget(name: string): [string, string, KeySpec] | undefined {
  for (const [section, keys] of Object.entries(SCHEMA)) {
    const prefix = `HIVE_${section.toUpperCase()}_`;
    if (!name.startsWith(prefix)) continue;
    const key = name.slice(prefix.length).toLowerCase();
    const spec = (keys as Record<string, KeySpec>)[key];
    if (spec !== undefined && spec.kind !== 'table_of') return [section, key, spec];
  }
  return undefined;
}

/** Converts an environment string to the type its key expects; invalid text is kept for the error. */
export function coerceEnv(spec: KeySpec, text: string): unknown {
  const t = text.trim();
  switch (spec.kind) {
    case 'int':
    case 'number':
      return t !== '' && Number.isFinite(Number(t)) ? Number(t) : text;
    case 'bool':
      if (['true', '1', 'yes', 'on'].includes(t.toLowerCase())) return true;
      if (['false', '0', 'no', 'off'].includes(t.toLowerCase())) return false;
      return text;
    case 'string_list':
      return t === '' ? [] : t.split(',').map((s) => s.trim());
    case 'string':
    case 'enum':
    case 'table_of':
      return text;
  }
}

/** Merges layers: later keys win; tables of tables merge entry by entry. */
export function mergeLayers(layers: readonly Layer[]): Layer {
  const out: Layer = {};
  for (const layer of layers) {
    for (const [section, keys] of Object.entries(layer)) {
      const target = (out[section] ??= {});
      for (const [key, value] of Object.entries(keys)) {
        const prev = target[key];
        target[key] = isTable(prev) && isTable(value) ? { ...prev, ...value } : value;
      }
    }
  }
  return out;
}
