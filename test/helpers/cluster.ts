/** Cluster tests: hub node processes sharing one PostgreSQL database, and reads of its tables. */
import pg from 'pg';
import { hubEnv, startHub, type RunningHub } from './cli.js';
import { parseStrictJson } from './strict-json.js';
import { client, type Client } from './http.js';

export interface NodeProc extends RunningHub {
  nodeId: string;
  api: Client;
  grpcPort: number;
}

/** Starts one node of the cluster on 127.0.0.1 (ports chosen by the system). */
export async function startNode(
  dbUrl: string,
  nodeId: string,
  extra: Record<string, string> = {},
  args: string[] = [],
): Promise<NodeProc> {
  const hub = await startHub(
    args,
    hubEnv({
      HIVE_DATABASE_URL: dbUrl,
      HIVE_CLUSTER_ENABLED: 'true',
      HIVE_CLUSTER_NODE_ID: nodeId,
      HIVE_SERVER_HOST: '127.0.0.1',
      HIVE_AGENTS_DEFAULT_POOL_SIZE: '2',
      HIVE_TASKS_MAX_PENDING: '1000000',
      ...extra,
    }),
    40_000,
  );
  const m = /"grpc_port":(\d+)/.exec(hub.output());
  return Object.assign(hub, { nodeId, api: client(hub.port), grpcPort: Number(m?.[1] ?? 0) });
}

/** One pooled connection to the cluster's database for the test's own reads. */
export function clusterDb(url: string): {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
} {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // Dropping the database at the end terminates idle connections: not an error of the test.
  pool.on('error', () => undefined);
  return {
    query: async <T>(sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows as T[],
    close: () => pool.end(),
  };
}

/** Structured log records of a node with this event field. */
export function logEvents(node: RunningHub, event: string): Array<Record<string, any>> {
  return node
    .output()
    .split('\n')
    .filter((l) => l.includes(`"event":"${event}"`))
    .map((l) => parseStrictJson(l) as Record<string, any>);
}
