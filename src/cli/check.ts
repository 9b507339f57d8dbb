/**
 * `--check`: everything the start would refuse, checked without starting and
 * without changing anything, each with its own verdict line, then a summary.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { adminPasswordFromEnv, inertKeys, type HubConfig } from '../config/index.js';
import { errorMessage } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { moduleLogger } from '../log/logger.js';
import { checkDataDir, describeStore, openStore } from '../storage/index.js';
import { portProblem } from '../edge/http-server.js';
import { NeuralEngine } from '../neural/engine.js';
import { MODELS_DIR } from '../neural/dataset.js';
import { adminPasswordProblem } from '../auth/passwords.js';

type Verdict = { level: 'ok' | 'warn' | 'FAILED'; text: string };

/** Runs every check, prints one line each (failures on stderr too), returns the exit code. */
export async function runCheck(
  config: HubConfig,
  log: Logger,
  write = (s: string): void => void process.stdout.write(s),
  writeErr = (s: string): void => void process.stderr.write(s),
): Promise<number> {
  write(`profile: ${config.profile} (chosen by ${config.profile_from})\n`);
  write(`files: ${config.sources.join(', ')}\n`);
  const verdicts: Verdict[] = [{ level: 'ok', text: 'configuration valid' }];
  const attempt = async (check: () => Promise<Verdict[] | Verdict>): Promise<void> => {
    try {
      verdicts.push(...[await check()].flat());
    } catch (err) {
      verdicts.push({ level: 'FAILED', text: errorMessage(err) });
    }
  };
  await attempt(() => ports(config));
  await attempt(() => dataDir(config));
  if (config.logging.file !== '') await attempt(() => logFile(config.logging.file));
  await attempt(() => database(config, log));
  await attempt(() => models(config, log));
  for (const w of inertKeys(config)) verdicts.push({ level: 'warn', text: w });
  for (const v of verdicts) {
    write(`${v.level.padEnd(6)} ${v.text}\n`);
    if (v.level === 'FAILED') writeErr(`FAILED: ${v.text}\n`);
  }
  const failed = verdicts.filter((v) => v.level === 'FAILED').length;
  const warnings = verdicts.filter((v) => v.level === 'warn').length;
  const tail = warnings === 0 ? '' : ` (${warnings} warning${warnings === 1 ? '' : 's'})`;
  write(
    failed === 0
      ? `OK: the hub can start with this configuration${tail}\n`
      : `FAILED: ${failed} check${failed === 1 ? '' : 's'} failed${tail}\n`,
  );
  return failed === 0 ? 0 : 1;
}

async function ports(config: HubConfig): Promise<Verdict[]> {
  const wanted: Array<[string, number]> = [['[server] port', config.server.port]];
  if (config.grpc.enabled) wanted.push(['[grpc] port', config.grpc.port]);
  const out: Verdict[] = [];
  for (const [key, port] of wanted) {
    if (port === 0) {
      out.push({ level: 'ok', text: `${key} 0: an ephemeral port is chosen at start` });
      continue;
    }
    const problem = await portProblem(config.server.host, port, key);
    out.push(
      problem === undefined
        ? { level: 'ok', text: `${key} ${port} on ${config.server.host} is free` }
        : { level: 'FAILED', text: problem },
    );
  }
  return out;
}

function dataDir(config: HubConfig): Promise<Verdict> {
  checkDataDir(config.database.data_dir);
  const who = os.userInfo();
  return Promise.resolve({
    level: 'ok',
    text: `data directory ${path.resolve(config.database.data_dir)} writable by ${who.username} (uid ${who.uid})`,
  });
}

/** The log file, or the nearest existing directory above it (the start creates the rest), must be writable. */
function logFile(file: string): Promise<Verdict> {
  const full = path.resolve(file);
  let probe = full;
  while (!existsSync(probe)) probe = path.dirname(probe);
  try {
    if (probe !== full && !statSync(probe).isDirectory())
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(probe, constants.W_OK);
  } catch (err) {
    throw new Error(
      `log file ${full} ([logging] file) cannot be written (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)} at ${probe})`,
    );
  }
  return Promise.resolve({ level: 'ok', text: `log file ${full} writable` });
}

/** Reachable, at which migration, and, with security on, whether the start can have an admin. */
async function database(config: HubConfig, log: Logger): Promise<Verdict[]> {
  const fresh =
    config.database.url === '' &&
    config.database.data_dir !== ':memory:' &&
    !existsSync(path.join(config.database.data_dir, 'hive.db'));
  const users = async (count: () => Promise<number>): Promise<Verdict | undefined> => {
    if (!config.security.enabled) return undefined;
    const n = await count();
    if (n > 0) return { level: 'ok', text: `security on: ${n} user${n === 1 ? '' : 's'}` };
    const problem = adminPasswordProblem(adminPasswordFromEnv());
    return problem === undefined
      ? { level: 'ok', text: 'security on, no users yet: the start creates admin from HIVE_SECURITY_ADMIN_PASSWORD' }
      : { level: 'FAILED', text: problem };
  };
  if (fresh) {
    const u = await users(() => Promise.resolve(0));
    return [{ level: 'ok', text: `database ${describeStore(config)} will be created at start` }, ...(u ? [u] : [])];
  }
  const store = await openStore(config, moduleLogger(log, 'storage'));
  try {
    const latency = await store.ping();
    const version = await store.schemaVersion();
    const schema = version === 0 ? 'not migrated yet (the start migrates)' : `at migration ${version}`;
    const u = await users(async () => (version === 0 ? 0 : (await store.contents()).users));
    return [
      { level: 'ok', text: `database ${describeStore(config)} reachable (${latency.toFixed(1)} ms), ${schema}` },
      ...(u ? [u] : []),
    ];
  } finally {
    await store.close();
  }
}

/** Opens and checks every neural model (then closes them): a broken model file stops the start with its name and what is wrong. */
export async function probeNeural(config: HubConfig, log: Logger): Promise<string> {
  if (!config.neural.enabled) return 'neural processor disabled';
  const engine = await NeuralEngine.open({ config, modelsDir: MODELS_DIR, log: moduleLogger(log, 'neural') });
  const status = engine.status();
  await engine.close();
  const list = (status['models'] as Array<{ name: string; version: number }>)
    .map((m) => `${m.name} v${m.version}`)
    .join(', ');
  return `neural models valid (${list}; ${String(status['backend'])})`;
}

async function models(config: HubConfig, log: Logger): Promise<Verdict> {
  return { level: 'ok', text: await probeNeural(config, log) };
}
