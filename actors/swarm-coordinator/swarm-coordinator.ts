/**
 * swarm_coordinator: the hive-wide view and pool scaling. Each hive.status asks
 * agent_management and task_management for their summaries and reads module
 * statuses from the supervision tree. Every tick it decides whether to scale the
 * local pool (scaling.ts) and applies it through agent_management; each decision
 * is a `hive.scaling` event and a log line.
 * State: the last decision and when it was made (a restart only resets the cooldown).
 */
import { assertNever } from '../../src/errors/index.js';
import type { ActorRef, ActorSpec, ActorInfo, ReplyTo } from '../../src/runtime/index.js';
import type { AgentManagementMsg, AgentSummary } from '../agent-management/messages.js';
import type { QueueFigures, TaskManagementMsg, TaskSummary } from '../task-distributor/messages.js';
import type { ClusterView, ModuleDeps } from '../shared/deps.js';
import { answer } from '../shared/answer.js';
import type { HiveNode, HiveStatus, SwarmCoordinatorMsg } from './messages.js';
import type { Member } from '../../src/storage/index.js';
import { decideScaling, type ScalingDecision } from './scaling.js';
import type { Agent } from '../../src/domain/index.js';

interface State {
  lastDecisionAt: number;
  last: (ScalingDecision & { at: string }) | undefined;
  decisions: number;
}

async function summaries(peers: SwarmPeers): Promise<[AgentSummary, TaskSummary]> {
  return Promise.all([
    peers.ask<AgentManagementMsg, AgentSummary>(peers.agents, (replyTo) => ({ type: 'agent.summarize', replyTo })),
    peers.ask<TaskManagementMsg, TaskSummary>(peers.tasks, (replyTo) => ({ type: 'task.summarize', replyTo })),
  ]);
}

/** What scaling reads every tick: the pool, and the queue (not a count of every task by status). */
async function figures(peers: SwarmPeers): Promise<[AgentSummary, QueueFigures]> {
  return Promise.all([
    peers.ask<AgentManagementMsg, AgentSummary>(peers.agents, (replyTo) => ({ type: 'agent.summarize', replyTo })),
    peers.ask<TaskManagementMsg, QueueFigures>(peers.tasks, (replyTo) => ({ type: 'task.queue', replyTo })),
  ]);
}

async function scale(deps: ModuleDeps, peers: SwarmPeers, state: State): Promise<void> {
  const a = deps.config.agents;
  if (a.pool_max_size === 0 || Date.now() - state.lastDecisionAt < a.scale_cooldown_seconds * 1000) return;
  const [agents, tasks] = await figures(peers);
  const decision = decideScaling({
    poolSize: agents.pool.size,
    min: a.pool_min_size,
    max: a.pool_max_size,
    pending: tasks.pending,
    capacity: agents.capacity,
    running: agents.running_tasks,
    pendingPerSlot: a.scale_up_pending_per_slot,
  });
  if (decision === undefined) return;
  const pool = await peers.ask<AgentManagementMsg, Agent[]>(peers.agents, (replyTo) => ({
    type: 'agent.ensure_pool',
    size: decision.to,
    replyTo,
  }));
  const applied = { ...decision, to: pool.length, at: new Date().toISOString() };
  state.lastDecisionAt = Date.now();
  state.last = applied;
  state.decisions++;
  deps.log.info(
    { event: 'hive.scaling', ...applied, pending: tasks.pending, capacity: agents.capacity },
    `pool ${applied.action.replace('_', ' ')} from ${applied.from} to ${applied.to}: ${applied.reason}`,
  );
  deps.events.publish('hive', 'hive.scaling', {
    ...applied,
    pending: tasks.pending,
    capacity: agents.capacity,
    utilization_percent: agents.utilization_percent,
  });
}

export interface SwarmPeers {
  ask<M, R>(ref: ActorRef<M>, build: (replyTo: ReplyTo<R>) => M): Promise<R>;
  agents: ActorRef<AgentManagementMsg>;
  tasks: ActorRef<TaskManagementMsg>;
  modules: () => ActorInfo[];
}

async function hiveStatus(deps: ModuleDeps, peers: SwarmPeers, state: State): Promise<HiveStatus> {
  const [agents, tasks] = await summaries(peers);
  const c = tasks.by_status;
  const uptime = (Date.now() - deps.startedAt.getTime()) / 1000;
  return {
    hive_id: deps.nodeId, // one node, one hive; clusterStatus gives the cluster's id
    node_id: deps.nodeId,
    metrics: {
      total_agents: agents.total,
      active_agents: agents.by_state.working + agents.by_state.learning,
      idle_agents: agents.by_state.idle,
      pending_tasks: c.pending,
      running_tasks: c.assigned + c.running,
      waiting_tasks: c.waiting,
      completed_tasks: c.completed,
      failed_tasks: c.failed,
      dead_tasks: c.dead,
      cancelled_tasks: c.cancelled,
      tasks_per_second: tasks.tasks_per_second,
      average_task_ms: tasks.average_task_ms,
      success_rate: tasks.success_rate,
      agent_utilization_percent: agents.utilization_percent,
    },
    modules: Object.fromEntries(peers.modules().map((m) => [m.name, { status: m.status, restarts: m.restarts }])),
    nodes: [
      {
        node_id: deps.nodeId,
        status: 'active',
        started_at: deps.startedAt.toISOString(),
        uptime_seconds: Math.round(uptime),
      },
    ],
    scaling: {
      enabled: deps.config.agents.pool_max_size > 0,
      pool: agents.pool,
      decisions: state.decisions,
      last_decision: state.last ?? null,
    },
  };
}

const LIVE = new Set(['joining', 'active', 'suspect']);

/** One member as /api/hive/status lists it; with its counts and modules when it answered. */
function nodeEntry(m: Member, s: HiveStatus | undefined): HiveNode {
  return {
    node_id: m.node_id,
    status: m.status,
    epoch: m.epoch,
    address: m.address,
    grpc_port: m.grpc_port,
    http_port: m.http_port,
    started_at: m.started_at,
    heartbeat_at: m.heartbeat_at,
    uptime_seconds: LIVE.has(m.status) ? Math.round((Date.now() - Date.parse(m.started_at)) / 1000) : 0,
    reachable: s !== undefined,
    ...(s === undefined
      ? {}
      : {
          total_agents: s.metrics.total_agents,
          active_agents: s.metrics.active_agents,
          tasks_per_second: s.metrics.tasks_per_second,
          modules: s.modules,
        }),
  };
}

/**
 * The whole cluster: task counts come from the shared database (already
 * cluster-wide); agent counts and rates are summed over the nodes that answer;
 * nodes lists every member with its membership status.
 */
async function clusterStatus(
  deps: ModuleDeps,
  cluster: ClusterView,
  peers: SwarmPeers,
  state: State,
): Promise<HiveStatus> {
  const local = await hiveStatus(deps, peers, state);
  const members = cluster.members();
  const answers = new Map<string, HiveStatus>([[deps.nodeId, local]]);
  await Promise.all(
    members
      .filter((m) => m.node_id !== deps.nodeId && LIVE.has(m.status))
      .map((m) =>
        cluster
          .ask<SwarmCoordinatorMsg, HiveStatus>(
            m.node_id,
            'swarm_coordinator',
            (replyTo) => ({ type: 'hive.status', scope: 'node', replyTo }),
            1500,
          )
          .then(
            (s) => answers.set(m.node_id, s),
            () => undefined,
          ),
      ),
  );
  const metrics = { ...local.metrics, total_agents: 0, active_agents: 0, idle_agents: 0, tasks_per_second: 0 };
  let busy = 0;
  for (const s of answers.values()) {
    metrics.total_agents += s.metrics.total_agents;
    metrics.active_agents += s.metrics.active_agents;
    metrics.idle_agents += s.metrics.idle_agents;
    metrics.tasks_per_second += s.metrics.tasks_per_second;
    busy += (s.metrics.agent_utilization_percent * s.metrics.total_agents) / 100;
  }
  metrics.agent_utilization_percent =
    metrics.total_agents === 0 ? 0 : Math.round((busy / metrics.total_agents) * 1000) / 10;
  const nodes = members.map((m) => nodeEntry(m, answers.get(m.node_id)));
  return { ...local, hive_id: `cluster:${members.map((m) => m.node_id).sort()[0] ?? deps.nodeId}`, metrics, nodes };
}

/** The swarm_coordinator module actor. */
export function swarmCoordinatorSpec(deps: ModuleDeps, peers: SwarmPeers): ActorSpec<SwarmCoordinatorMsg, State> {
  return {
    name: 'swarm_coordinator',
    init: () => ({ lastDecisionAt: 0, last: undefined, decisions: 0 }),
    receive: async (state, msg) => {
      switch (msg.type) {
        case 'hive.status':
          await answer(msg.replyTo, () =>
            msg.scope === 'node' || deps.cluster === undefined
              ? hiveStatus(deps, peers, state)
              : clusterStatus(deps, deps.cluster, peers, state),
          );
          return state;
        case 'swarm.tick':
          await scale(deps, peers, state);
          return state;
        case 'module.ping':
          msg.replyTo.ok(true);
          return state;
        default:
          return assertNever(msg);
      }
    },
  };
}
