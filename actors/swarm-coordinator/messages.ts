import type { ReplyTo } from '../../src/runtime/index.js';
import type { ModulePing } from '../../src/runtime/index.js';

export interface HiveNode {
  node_id: string;
  /** active for a single node; in a cluster, the membership status (joining, active, suspect, dead, left). */
  status: string;
  started_at: string;
  uptime_seconds: number;
  /** Cluster mode only. */
  epoch?: number;
  address?: string;
  grpc_port?: number;
  http_port?: number;
  heartbeat_at?: string;
  /** Whether the node answered this status request (live members only). */
  reachable?: boolean;
  total_agents?: number;
  active_agents?: number;
  tasks_per_second?: number;
  modules?: Record<string, { status: string; restarts: number }>;
}

/** The hive-wide report behind GET /api/hive/status. */
export interface HiveStatus {
  hive_id: string;
  node_id: string;
  metrics: {
    total_agents: number;
    active_agents: number;
    idle_agents: number;
    pending_tasks: number;
    running_tasks: number;
    waiting_tasks: number;
    completed_tasks: number;
    failed_tasks: number;
    dead_tasks: number;
    cancelled_tasks: number;
    tasks_per_second: number;
    average_task_ms: number;
    success_rate: number;
    agent_utilization_percent: number;
  };
  modules: Record<string, { status: string; restarts: number }>;
  nodes: HiveNode[];
  scaling: {
    enabled: boolean;
    pool: { size: number; min: number; max: number };
    decisions: number;
    last_decision: unknown;
  };
}

export type SwarmCoordinatorMsg =
  /** scope node: this node only (what other nodes ask); cluster (the default): every live node. */
  | { type: 'hive.status'; scope?: 'node' | 'cluster'; replyTo: ReplyTo<HiveStatus> }
  /** Periodic: decide whether to scale the local pool. */
  | { type: 'swarm.tick' }
  | ModulePing;
