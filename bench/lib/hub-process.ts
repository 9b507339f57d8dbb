/** A hub as a child process (the real CLI through tsx), for benchmarks that need separate processes. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface HubProcess {
  httpPort: number;
  grpcPort: number;
  pid: number;
  /** Whether the process still runs. */
  alive(): boolean;
  stop(): Promise<void>;
}

/**
 * Starts `src/main.ts` with the test profile plus `env`, and resolves once it
 * listens. `profileDir`: the process writes a V8 CPU profile there when it stops.
 */
export async function startHubProcess(
  env: Record<string, string>,
  profileDir = '',
  extraArgs: readonly string[] = [],
): Promise<HubProcess> {
  const args = [
    ...(profileDir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]),
    '--import',
    'tsx',
    'src/main.ts',
    '--log-level',
    'info',
    ...extraArgs,
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, HIVE_ENV: 'test', HIVE_LOGGING_LEVEL: 'warn', ...env },
  });
  let out = '';
  const ports = await new Promise<{ httpPort: number; grpcPort: number }>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const http = /"port":(\d+)[^\n]*hub listening/.exec(out);
      const grpc = /"grpc_port":(\d+)/.exec(out);
      if (http && grpc) resolve({ httpPort: Number(http[1]), grpcPort: Number(grpc[1]) });
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => reject(new Error(`hub exited ${code}: ${out.slice(-2000)}`)));
  });
  return {
    ...ports,
    pid: child.pid ?? 0,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: () => new Promise((r) => (child.on('exit', () => r()), child.kill('SIGTERM'))),
  };
}
