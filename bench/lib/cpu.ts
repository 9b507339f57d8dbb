/**
 * Where a run's CPU went: this process (process.cpuUsage) and every process of
 * the server it uses (utime + stime from /proc: PostgreSQL's backends and
 * background workers alike, or redis-server). Read before and after the measured part, while the pools are
 * still open: a backend that exits in between takes its time with it.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU in ticks of 10 ms. */
const TICK_MS = 10;

export interface CpuReading {
  nodeMs: number;
  serverMs: number;
}

/** A /proc/<pid>/stat line's command and its CPU so far (utime + stime), or undefined when the process is gone. */
function statOf(pid: number | string): { comm: string; ms: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command sits in parentheses and may hold spaces: fields are counted from the closing one.
    const close = stat.lastIndexOf(')');
    const f = stat.slice(close + 2).split(' ');
    return { comm: stat.slice(stat.indexOf('(') + 1, close), ms: (Number(f[11]) + Number(f[12])) * TICK_MS };
  } catch {
    return undefined;
  }
}

/** CPU milliseconds used so far by the live processes whose command starts with `comm`. */
function serverMs(comm: string): number {
  let ms = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const s = statOf(pid);
    if (s?.comm.startsWith(comm) === true) ms += s.ms;
  }
  return ms;
}

/** CPU milliseconds a process has used so far (0 when it is gone). */
export function pidCpuMs(pid: number): number {
  return statOf(pid)?.ms ?? 0;
}

export function readCpu(server = 'postgres'): CpuReading {
  const u = process.cpuUsage();
  return { nodeMs: (u.user + u.system) / 1000, serverMs: serverMs(server) };
}

/** CPU microseconds per task between two readings, by side. */
export function cpuPerTask(
  before: CpuReading,
  after: CpuReading,
  tasks: number,
): { node_us_per_task: number; server_us_per_task: number } {
  const per = (ms: number): number => Math.round((ms * 1000) / tasks);
  return {
    node_us_per_task: per(after.nodeMs - before.nodeMs),
    server_us_per_task: per(after.serverMs - before.serverMs),
  };
}
