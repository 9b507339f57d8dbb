/** Shared pieces of the fault tests: a private PostgreSQL server, a hub on it, and what the tests count. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { hiveProto } from '../../src/grpc/proto.js';
import { hubEnv, startHub, type RunningHub } from './cli.js';
import {
  privatePostgresUnavailableReason,
  startPrivatePostgres,
  type PrivatePostgres,
} from '../../bench/lib/private-postgres.js';

/** Skips (or, under CI, fails) a suite that needs a private PostgreSQL server. */
export function requirePrivatePostgres(ctx: Mocha.Context): void {
  const reason = privatePostgresUnavailableReason();
  if (reason === undefined) return;
  if (process.env['CI'] === 'true') throw new Error(`${reason}; CI must be able to run a private PostgreSQL server`);
  console.log(`skipping fault tests: ${reason}`);
  ctx.skip();
}

export interface FaultStack {
  pg: PrivatePostgres;
  dbUrl: string;
  dataDir: string;
  /** A direct connection for counting (reconnects itself after restarts). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  startHub(extra?: Record<string, string>, args?: string[]): Promise<RunningHub>;
  close(): Promise<void>;
}

/** A private server with one database, and how to start hubs on it. */
export async function faultStack(): Promise<FaultStack> {
  const server = await startPrivatePostgres();
  const dbUrl = await server.createDatabase('hive_fault');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hub-fault-'));
  const hubs: RunningHub[] = [];
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv =>
    hubEnv({
      HIVE_DATABASE_URL: dbUrl,
      HIVE_DATABASE_DATA_DIR: dataDir,
      HIVE_SERVER_HOST: '127.0.0.1',
      HIVE_TASKS_MAX_PENDING: '1000000',
      ...extra,
    });
  return {
    pg: server,
    dbUrl,
    dataDir,
    async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
      const c = new pg.Client({ connectionString: dbUrl, connectionTimeoutMillis: 2000 });
      await c.connect();
      try {
        return (await c.query(sql, params)).rows as T[];
      } finally {
        await c.end();
      }
    },
    env,
    async startHub(extra = {}, args = []) {
      const h = await startHub(args, env(extra));
      hubs.push(h);
      return h;
    },
    async close() {
      for (const h of hubs) if (h.child.exitCode === null && h.child.signalCode === null) await h.stop('SIGKILL');
      server.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** True while the hub process has not exited. */
export function alive(hub: RunningHub): boolean {
  return hub.child.exitCode === null && hub.child.signalCode === null;
}

/** Tasks run more than once (at-least-once reruns): attempts beyond the first among completed tasks. */
export async function reruns(stack: FaultStack): Promise<number> {
  const [r] = await stack.query<{ n: number }>(
    "SELECT COALESCE(sum(attempts - 1), 0)::int AS n FROM tasks WHERE status = 'completed'",
  );
  return r?.n ?? 0;
}

/** The p-quantile of a list of numbers. */
export function quantile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0;
}

/** A remote agent on a raw AgentService stream that answers every task at once; tells whether its stream is still open. */
export function rawAgent(
  address: string,
  name: string,
  capability: string,
): { open(): boolean; completed(): number; close(): void } {
  const c = new (hiveProto().AgentServiceClient)(address, grpc.credentials.createInsecure());
  const s = (
    c as unknown as { Connect: () => grpc.ClientDuplexStream<Record<string, unknown>, Record<string, unknown>> }
  ).Connect();
  let ended = false;
  let done = 0;
  s.on('error', () => (ended = true));
  s.on('end', () => (ended = true));
  s.on('data', (m: Record<string, unknown>) => {
    const tasks = (m['assigned'] as { tasks?: Array<{ id: string }> } | undefined)?.tasks ?? [];
    if (tasks.length === 0) return;
    s.write({
      results: { results: tasks.map((t) => ({ task_id: t.id, success: true, output_json: '{"raw":true}' })) },
    });
    done += tasks.length;
  });
  s.write({ register: { name, capabilities: [{ name: capability, proficiency: 1 }], max_concurrency: 16 } });
  return { open: () => !ended, completed: () => done, close: () => s.cancel() };
}

/** The admin password of securedHub(). */
export const SECURED_ADMIN_PASSWORD = 'fault admin password';

/** A hub with security on in its own data directory, an admin created at first start, and that admin's bearer header. */
export async function securedHub(
  prefix: string,
  extra: Record<string, string> = {},
  args: string[] = [],
): Promise<{ hub: RunningHub; env: NodeJS.ProcessEnv; admin: Record<string, string>; close(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const env = hubEnv({
    HIVE_DATABASE_DATA_DIR: dataDir,
    HIVE_SERVER_HOST: '127.0.0.1',
    HIVE_SECURITY_ENABLED: 'true',
    HIVE_SECURITY_JWT_SECRET: 'fault-secret-'.padEnd(64, 'q'),
    HIVE_SECURITY_ADMIN_PASSWORD: SECURED_ADMIN_PASSWORD,
    HIVE_AGENTS_DEFAULT_POOL_SIZE: '1',
    ...extra,
  });
  const hub = await startHub(args, env);
  const login = await fetch(`http://127.0.0.1:${hub.port}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: SECURED_ADMIN_PASSWORD }),
  });
  const token = ((await login.json()) as { data: { access_token: string } }).data.access_token;
  return {
    hub,
    env,
    admin: { authorization: `Bearer ${token}` },
    async close() {
      await hub.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
