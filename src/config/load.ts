import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from './package-root.js';
import { HubError } from '../errors/index.js';
import type { ConfigProblem } from './check-value.js';
import { checkLayer, displayPath, envLayer, mergeLayers, readTomlFile, type Layer } from './layers.js';
import type { HubConfig, LogLevel } from './types.js';

/** Where settings/*.toml live: beside src/ in the package, whatever the cwd. */
export const SETTINGS_DIR = path.join(packageRoot(), 'settings');

export interface LoadOptions {
  /** --config FILE, relative to the cwd. */
  configFile?: string | undefined;
  /** The process environment (only src/config reads process.env; callers pass it in). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Command-line overrides, applied last. */
  port?: number | undefined;
  logLevel?: string | undefined;
  settingsDir?: string;
}

/**
 * Thrown when the configuration is invalid; `problems` lists every problem with
 * its source (file:line:column, env variable or command line) and key path.
 */
export class ConfigError extends HubError {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super(
      'CONFIG_INVALID',
      `invalid configuration: ${problems.length} problem(s): ${problems.map(formatProblem).join('; ')}`,
      {
        details: { problems },
      },
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** "settings/x.toml: server.port: expected an integer ..." */
export function formatProblem(p: ConfigProblem): string {
  return `${p.source}: ${p.keyPath}: ${p.message}`;
}

/** Loads default.toml → settings/<profile>.toml → --config → HIVE_* env → command line; validates; freezes. */
export function loadConfig(options: LoadOptions = {}): HubConfig {
  const env = options.env ?? readProcessEnv();
  const dir = options.settingsDir ?? SETTINGS_DIR;
  const problems: ConfigProblem[] = [];
  const layers: Layer[] = [];
  const sources: string[] = [];
  const addRaw = (file: string, raw: Record<string, unknown> | undefined, requireAll: boolean): void => {
    sources.push(displayPath(file));
    if (raw !== undefined) layers.push(checkLayer(raw, displayPath(file), requireAll, problems));
  };
  const configFile = options.configFile === undefined ? undefined : resolveConfigFile(options.configFile);
  const fileRaw =
    configFile === undefined
      ? undefined
      : takeProfileKey(readTomlFile(configFile, problems), displayPath(configFile), problems);
  const chosen = chooseProfile(fileRaw?.profile, env['HIVE_ENV'], configFile, dir, problems);
  addRaw(path.join(dir, 'default.toml'), readTomlFile(path.join(dir, 'default.toml'), problems), true);
  const profileFile = path.join(dir, `${chosen.profile}.toml`);
  if (!/^[a-z0-9_-]+$/i.test(chosen.profile) || !existsSync(profileFile)) {
    problems.push({
      source: chosen.from,
      keyPath: 'profile',
      message: `no profile file ${displayPath(profileFile)} for profile ${JSON.stringify(chosen.profile)}`,
    });
  } else if (configFile === undefined || path.resolve(profileFile) !== configFile) {
    addRaw(
      profileFile,
      takeProfileKey(readTomlFile(profileFile, problems), displayPath(profileFile), problems)?.rest,
      false,
    );
  }
  if (configFile !== undefined) addRaw(configFile, fileRaw?.rest, false);
  layers.push(envLayer(env, problems));
  layers.push(cliLayer(options, problems));
  const merged = mergeLayers(layers);
  if (problems.length === 0) problems.push(...crossChecks(merged, chosen.profile));
  if (problems.length > 0) throw new ConfigError(problems);
  return finish(merged, chosen, sources);
}

/**
 * --config FILE as given, relative to the cwd; a relative path that is not there is
 * looked up under the package root, so the guide's `--config settings/production.toml`
 * works from any directory.
 */
export function resolveConfigFile(file: string): string {
  const here = path.resolve(file);
  if (path.isAbsolute(file) || existsSync(here)) return here;
  const inPackage = path.join(packageRoot(), file);
  return existsSync(inPackage) ? inPackage : here;
}

/** Splits a file's top-level `profile = "…"` key (the profile it is written for) from its sections. */
function takeProfileKey(
  raw: Record<string, unknown> | undefined,
  source: string,
  problems: ConfigProblem[],
): { profile: string | undefined; rest: Record<string, unknown> } | undefined {
  if (raw === undefined) return undefined;
  const { profile, ...rest } = raw;
  if (profile === undefined) return { profile: undefined, rest };
  if (typeof profile !== 'string' || !/^[a-z0-9_-]+$/i.test(profile)) {
    problems.push({
      source,
      keyPath: 'profile',
      message: `expected a profile name such as "production", got ${JSON.stringify(profile)}`,
    });
    return { profile: undefined, rest };
  }
  return { profile, rest };
}

/**
 * The profile, and what said so: the --config file's `profile` key, else HIVE_ENV,
 * else the --config file's name when settings/ has a profile of that name, else
 * development. A file written for one profile never runs under another: a
 * contradicting HIVE_ENV is an error.
 */
function chooseProfile(
  declared: string | undefined,
  hiveEnv: string | undefined,
  configFile: string | undefined,
  dir: string,
  problems: ConfigProblem[],
): { profile: string; from: string } {
  const envValue = hiveEnv !== undefined && hiveEnv !== '' ? hiveEnv : undefined;
  if (declared !== undefined && configFile !== undefined) {
    const from = `${displayPath(configFile)} (profile key)`;
    if (envValue !== undefined && envValue !== declared) {
      problems.push({
        source: 'env HIVE_ENV',
        keyPath: 'HIVE_ENV',
        message: `HIVE_ENV=${envValue} contradicts profile = "${declared}" in ${displayPath(configFile)}; unset HIVE_ENV or change the file`,
      });
    }
    return { profile: declared, from };
  }
  if (envValue !== undefined) return { profile: envValue, from: 'env HIVE_ENV' };
  const named = configFile === undefined ? undefined : path.basename(configFile, '.toml');
  if (named !== undefined && /^[a-z0-9_-]+$/i.test(named) && existsSync(path.join(dir, `${named}.toml`))) {
    return { profile: named, from: `${displayPath(configFile ?? '')} (file name)` };
  }
  return { profile: 'development', from: 'default (no HIVE_ENV, no profile key)' };
}

/** The one place that reads process.env. */
export function readProcessEnv(): Readonly<Record<string, string | undefined>> {
  return { ...process.env };
}

function cliLayer(options: LoadOptions, problems: ConfigProblem[]): Layer {
  const layer: Layer = {};
  const source = 'command line';
  if (options.port !== undefined) {
    if (Number.isInteger(options.port) && options.port >= 0 && options.port <= 65535)
      layer['server'] = { port: options.port };
    else
      problems.push({
        source,
        keyPath: 'server.port',
        message: `--port expects an integer from 0 to 65535, got ${String(options.port)}`,
      });
  }
  if (options.logLevel !== undefined) {
    const raw = { logging: { level: options.logLevel } };
    const checked = checkLayer(raw, `${source} --log-level`, false, problems);
    if (checked['logging']) layer['logging'] = checked['logging'];
  }
  return layer;
}

function num(layer: Layer, section: string, key: string): number {
  return layer[section]?.[key] as number;
}

/** Rules that relate several keys; run only when every key is individually valid. */
// size: one rule per cross-key constraint (docs/configuration.md, Cross-key rules).
function crossChecks(c: Layer, profile: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const merged = 'merged configuration';
  if (num(c, 'database', 'min_connections') > num(c, 'database', 'max_connections')) {
    problems.push({
      source: merged,
      keyPath: 'database.min_connections',
      message: 'must not exceed database.max_connections',
    });
  }
  if (num(c, 'tasks', 'backoff_initial_ms') > num(c, 'tasks', 'backoff_max_ms')) {
    problems.push({
      source: merged,
      keyPath: 'tasks.backoff_initial_ms',
      message: 'must not exceed tasks.backoff_max_ms',
    });
  }
  if (num(c, 'supervision', 'backoff_initial_ms') > num(c, 'supervision', 'backoff_max_ms')) {
    problems.push({
      source: merged,
      keyPath: 'supervision.backoff_initial_ms',
      message: 'must not exceed supervision.backoff_max_ms',
    });
  }
  if (num(c, 'cluster', 'heartbeat_interval_ms') >= num(c, 'cluster', 'suspect_after_ms')) {
    problems.push({
      source: merged,
      keyPath: 'cluster.heartbeat_interval_ms',
      message: 'must be less than cluster.suspect_after_ms',
    });
  }
  if (num(c, 'cluster', 'suspect_after_ms') > num(c, 'cluster', 'dead_after_ms')) {
    problems.push({
      source: merged,
      keyPath: 'cluster.suspect_after_ms',
      message: 'must not exceed cluster.dead_after_ms',
    });
  }
  problems.push(...flowChecks(c, merged));
  if (c['cluster']?.['enabled'] === true && c['grpc']?.['enabled'] !== true) {
    problems.push({
      source: merged,
      keyPath: 'cluster.enabled',
      message: 'cluster mode needs the gRPC server (grpc.enabled = true): nodes talk to each other over it',
    });
  }
  if (c['security']?.['enabled'] === true) problems.push(...jwtSecretProblems(c['security']['jwt_secret'], merged));
  const rawUrl = c['database']?.['url'];
  const url = typeof rawUrl === 'string' ? rawUrl : '';
  if (url !== '' && !/^postgres(ql)?:\/\//.test(url)) {
    problems.push({
      source: merged,
      keyPath: 'database.url',
      message: 'expected empty (embedded SQLite) or a postgres:// or postgresql:// URL',
    });
  }
  if (c['cluster']?.['enabled'] === true && url === '') {
    problems.push({
      source: merged,
      keyPath: 'cluster.enabled',
      message:
        'cluster mode needs PostgreSQL: set database.url (or HIVE_DATABASE_URL); the embedded SQLite store is single-node only',
    });
  }
  if (
    profile === 'production' &&
    c['agents']?.['default_executor'] === 'echo' &&
    num(c, 'agents', 'default_pool_size') > 0
  ) {
    problems.push({
      source: merged,
      keyPath: 'agents.default_pool_size',
      message:
        'the production profile never starts echo agents (they would "complete" real tasks by echoing them); set agents.default_executor to a real executor or default_pool_size = 0',
    });
  }
  return problems;
}

/** Secrets that ship in documentation and examples: never accepted. */
const KNOWN_SECRETS = new Set([
  'your-256-bit-secret-here-change-this-in-production',
  'secret',
  'changeme',
  'change-me',
  'jwt_secret',
  'your-secret-key',
]);

/** With security on, the JWT secret must be set, not a known example, and at least 32 bytes. */
function jwtSecretProblems(value: unknown, source: string): ConfigProblem[] {
  const secret = typeof value === 'string' ? value : '';
  const fix = 'generate one with `openssl rand -hex 32` and set [security] jwt_secret or HIVE_SECURITY_JWT_SECRET';
  if (secret === '')
    return [{ source, keyPath: 'security.jwt_secret', message: `missing while security.enabled is true; ${fix}` }];
  if (KNOWN_SECRETS.has(secret.toLowerCase()))
    return [{ source, keyPath: 'security.jwt_secret', message: `is a published example value, not a secret; ${fix}` }];
  if (Buffer.byteLength(secret, 'utf8') < 32)
    return [
      {
        source,
        keyPath: 'security.jwt_secret',
        message: `is ${Buffer.byteLength(secret, 'utf8')} bytes; at least 32 are needed; ${fix}`,
      },
    ];
  return [];
}

/** The first admin's password for a first start with security on (environment only). */
export function adminPasswordFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env['HIVE_SECURITY_ADMIN_PASSWORD'] ?? '';
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function finish(merged: Layer, chosen: { profile: string; from: string }, sources: string[]): HubConfig {
  const cluster = merged['cluster'] as { node_id: string };
  if (cluster.node_id === '') cluster.node_id = os.hostname();
  const config = { ...merged, profile: chosen.profile, profile_from: chosen.from, sources } as unknown as HubConfig;
  return deepFreeze(config);
}

export type { LogLevel };

/** [flow]: budgets name a configured unit and set at least one window; patterns are valid keys with `*`. */
function flowChecks(c: Layer, source: string): ConfigProblem[] {
  const flow = c['flow'] ?? {};
  const units = (flow['units'] ?? []) as string[];
  const problems: ConfigProblem[] = [];
  for (const table of ['concurrency', 'rate', 'budget', 'fairness'])
    for (const pattern of Object.keys(flow[table] ?? {}))
      if (!/^[A-Za-z0-9_.:/@+=*-]{1,128}$/.test(pattern))
        problems.push({
          source,
          keyPath: `flow.${table}.${pattern}`,
          message: 'a key pattern: letters, digits, _ . : / @ + = - and *',
        });
  for (const [pattern, rule] of Object.entries((flow['budget'] ?? {}) as Record<string, Record<string, unknown>>)) {
    if (!units.includes(String(rule['unit'])))
      problems.push({
        source,
        keyPath: `flow.budget.${pattern}.unit`,
        message: `must be one of flow.units (${units.join(', ')})`,
      });
    if (!(Number(rule['per_minute'] ?? 0) > 0) && !(Number(rule['per_day'] ?? 0) > 0))
      problems.push({ source, keyPath: `flow.budget.${pattern}`, message: 'set per_minute or per_day above 0' });
  }
  return problems;
}
