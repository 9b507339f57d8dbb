/**
 * swarm_coordinator: the hive-wide view. Stateless between messages: each
 * hive.status asks agent_management and task_management for their summaries
 * and reads module statuses from the supervision tree.
 */
import { assertNever } from '../../src/errors/index.js';
import type { ActorRef, ActorSpec, ActorInfo, ReplyTo } from '../../src/runtime/index.js';
import type { AgentManagementMsg, AgentSummary } from '../agent-management/messages.js';
import type { TaskManagementMsg, TaskSummary } from '../task-distributor/messages.js';
import type { ModuleDeps } from '../shared/deps.js';
import { answer } from '../shared/answer.js';
import type { HiveStatus, SwarmCoordinatorMsg } from './messages.js';

export interface SwarmPeers {
  ask<M, R>(ref: ActorRef<M>, build: (replyTo: ReplyTo<R>) => M): Promise<R>;
  agents: ActorRef<AgentManagementMsg>;
  tasks: ActorRef<TaskManagementMsg>;
  modules: () => ActorInfo[];
}

async function hiveStatus(deps: ModuleDeps, peers: SwarmPeers): Promise<HiveStatus> {
  const [agents, tasks] = await Promise.all([
    peers.ask<AgentManagementMsg, AgentSummary>(peers.agents, (replyTo) => ({ type: 'agent.summarize', replyTo })),
    peers.ask<TaskManagementMsg, TaskSummary>(peers.tasks, (replyTo) => ({ type: 'task.summarize', replyTo })),
  ]);
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
  };
}

/** The swarm_coordinator module actor. */
export function swarmCoordinatorSpec(deps: ModuleDeps, peers: SwarmPeers): ActorSpec<SwarmCoordinatorMsg, null> {
  return {
    name: 'swarm_coordinator',
    init: () => null,
    receive: async (state, msg) => {
      switch (msg.type) {
        case 'hive.status':
          await answer(msg.replyTo, () => hiveStatus(deps, peers));
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
