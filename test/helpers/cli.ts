import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseStrictJson } from './strict-json.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/** Environment for a spawned hub: the test profile, nothing inherited that is HIVE_*. */
export function hubEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HIVE_') && k !== 'DATABASE_URL') env[k] = v;
  return { ...env, HIVE_ENV: 'test', ...extra };
}

/** Spawns the real CLI (through tsx) and waits for it to exit. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = hubEnv(), timeoutMs = 20_000): Promise<CliResult> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: ROOT, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI ${args.join(' ')} did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
}

export interface RunningHub {
  port: number;
  child: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts the hub and resolves once it logs the port it listens on. */
export function startHub(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<RunningHub> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--log-level', 'info', ...args], {
    cwd: ROOT,
    env,
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hub did not start within ${timeoutMs} ms: ${out}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /"port":(\d+)[^\n]*hub listening/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          port: Number(m[1]),
          child,
          output: () => out,
          stop: async (signal = 'SIGTERM') => {
            child.kill(signal);
            const code = await exited;
            // Every record a hub wrote in a test is strict JSON: no key twice (a crash may cut the last line).
            logRecords(out.slice(0, out.lastIndexOf('\n') + 1));
            return code;
          },
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`hub exited with ${code} before listening: ${out}`));
    });
  });
}

/** Parsed JSON log records from a hub's stdout; a record with a key twice fails the test. */
export function logRecords(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => parseStrictJson(l) as Record<string, unknown>);
}
