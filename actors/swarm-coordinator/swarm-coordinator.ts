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
import type { TaskManagementMsg, TaskSummary } from '../task-distributor/messages.js';
import type { ModuleDeps } from '../shared/deps.js';
import { answer } from '../shared/answer.js';
import type { HiveStatus, SwarmCoordinatorMsg } from './messages.js';
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

async function scale(deps: ModuleDeps, peers: SwarmPeers, state: State): Promise<void> {
  const a = deps.config.agents;
  if (a.pool_max_size === 0 || Date.now() - state.lastDecisionAt < a.scale_cooldown_seconds * 1000) return;
  const [agents, tasks] = await summaries(peers);
  const decision = decideScaling({
    poolSize: agents.pool.size,
    min: a.pool_min_size,
    max: a.pool_max_size,
    pending: tasks.queue_depth,
    capacity: agents.capacity,
    running: agents.running_tasks,
    pendingPerSlot: a.scale_up_pending_per_slot,
  });
  if (decision === undefined) return;
  const pool = await peers.ask<AgentManagementMsg, Agent[]>(peers.agents, (replyTo) => ({ type: 'agent.ensure_pool', size: decision.to, replyTo }));
  const applied = { ...decision, to: pool.length, at: new Date().toISOString() };
  state.lastDecisionAt = Date.now();
  state.last = applied;
  state.decisions++;
  deps.log.info({ event: 'hive.scaling', ...applied, pending: tasks.queue_depth, capacity: agents.capacity }, `pool ${applied.action.replace('_', ' ')} from ${applied.from} to ${applied.to}: ${applied.reason}`);
  deps.events.publish('hive', 'hive.scaling', { ...applied, pending: tasks.queue_depth, capacity: agents.capacity, utilization_percent: agents.utilization_percent });
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
    hive_id: deps.nodeId, // one node, one hive; the cluster issue gives a cluster-wide id
    node_id: deps.nodeId,
    metrics: {
      total_agents: agents.total,
      active_agents: agents.by_state.working + agents.by_state.learning,
      idle_agents: agents.by_state.idle,
      pending_tasks: c.pending,
      running_tasks: c.assigned + c.running,
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
    nodes: [{ node_id: deps.nodeId, status: 'active', started_at: deps.startedAt.toISOString(), uptime_seconds: Math.round(uptime) }],
    scaling: { enabled: deps.config.agents.pool_max_size > 0, pool: agents.pool, decisions: state.decisions, last_decision: state.last ?? null },
  };
}

/** The swarm_coordinator module actor. */
export function swarmCoordinatorSpec(deps: ModuleDeps, peers: SwarmPeers): ActorSpec<SwarmCoordinatorMsg, State> {
  return {
    name: 'swarm_coordinator',
    init: () => ({ lastDecisionAt: 0, last: undefined, decisions: 0 }),
    receive: async (state, msg) => {
      switch (msg.type) {
        case 'hive.status':
          await answer(msg.replyTo, () => hiveStatus(deps, peers, state));
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
