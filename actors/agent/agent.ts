/**
 * agent: one local agent. It starts the tasks agent_management hands it and
 * reports each end. State: the agent's identity; executions live in the node's
 * Executions registry, so a restart of this actor loses none. Accepts AgentMsg.
 */
import type { Agent, Task } from '../../src/domain/index.js';
import { assertNever } from '../../src/errors/index.js';
import type { ActorContext, ActorRef, ActorSpec } from '../../src/runtime/index.js';
import type { ModuleDeps } from '../shared/deps.js';
import { execute } from './execute.js';
import { TaskFailure, type Handler } from './executors.js';
import type { AgentMsg, TaskDone } from './messages.js';

export interface AgentParent {
  ref: ActorRef<{ type: 'agent.task_done'; done: TaskDone }>;
}

function handlerFor(deps: ModuleDeps, agent: Agent): Handler {
  const handler = deps.handlers.get(agent.executor ?? deps.config.agents.default_executor);
  if (handler !== undefined) return handler;
  return () => {
    throw new TaskFailure(`agent ${agent.name} has executor "${agent.executor}", which this node does not have`, true, 'EXECUTOR_MISSING');
  };
}

async function run(deps: ModuleDeps, agent: Agent, parent: AgentParent, task: Task, ctx: ActorContext<AgentMsg>): Promise<void> {
  const started = await deps.store.transitionTask(task.id, {
    from: ['assigned'],
    to: 'running',
    attempt: task.attempts,
    patch: { started_at: new Date().toISOString() },
    nodeId: deps.nodeId,
  });
  if (started === undefined) {
    ctx.tell(parent.ref, { type: 'agent.task_done', done: { agentId: agent.id, taskId: task.id, outcome: 'stale', durationMs: 0 } });
    return;
  }
  deps.events.publish('tasks', 'task.started', started);
  const execution = deps.executions.start(task.id, agent.id, task.attempts);
  const log = deps.log.child({ task_id: task.id, agent_id: agent.id });
  const input = {
    id: started.id,
    title: started.title,
    description: started.description,
    type: started.type,
    priority: started.priority,
    payload: started.payload,
    attempt: started.attempts,
    timeout_ms: started.timeout_ms,
  };
  void execute(handlerFor(deps, agent), input, { agent: { id: agent.id, name: agent.name }, log }, execution.controller).then((outcome) => {
    // The end is recorded in the node's registry first: if this message is lost (the agent restarting), recovery finds it there.
    deps.executions.settle(task.id, task.attempts, outcome);
    try {
      ctx.tell(ctx.self, { type: 'agent.finished', taskId: task.id, attempt: task.attempts });
    } catch {
      // stopped or full: the respawned agent (init) or the periodic recovery re-sends it
    }
  });
}

/** Re-sends the ends of this agent's executions that were recorded but never stored. */
function recover(deps: ModuleDeps, agent: Agent, ctx: ActorContext<AgentMsg>, olderThanMs: number): void {
  for (const e of deps.executions.unreported(agent.id, olderThanMs)) ctx.tell(ctx.self, { type: 'agent.finished', taskId: e.taskId, attempt: e.attempt });
}

async function finish(deps: ModuleDeps, agent: Agent, parent: AgentParent, task: { id: string; attempts: number }, ctx: ActorContext<AgentMsg>): Promise<void> {
  // Only the first report of an end counts (a re-sent one finds the execution gone).
  const settled = deps.executions.get(task.id, task.attempts)?.settled;
  if (settled === undefined) return;
  const { outcome, durationMs } = settled;
  const completedAt = new Date().toISOString();
  let after: Task | undefined;
  if (outcome.kind === 'completed') {
    after = await deps.store.transitionTask(task.id, { from: ['running'], to: 'completed', attempt: task.attempts, patch: { result: outcome.result, completed_at: completedAt }, nodeId: deps.nodeId });
  } else if (outcome.kind === 'failed') {
    after = await deps.store.transitionTask(task.id, { from: ['running'], to: 'failed', attempt: task.attempts, patch: { error: outcome.error, completed_at: completedAt }, nodeId: deps.nodeId, detail: { code: outcome.error.code } });
  }
  if (after !== undefined) {
    deps.events.publish('tasks', outcome.kind === 'completed' ? 'task.completed' : 'task.failed', after);
    const fields = { event: `task.${after.status}`, task_id: task.id, agent_id: agent.id, duration_ms: Math.round(durationMs * 100) / 100 };
    if (outcome.kind === 'failed') deps.log.warn({ ...fields, code: outcome.error.code, retryable: outcome.error.retryable }, `task failed: ${outcome.error.message}`);
    else deps.log.debug(fields, 'task completed');
  }
  deps.executions.finish(task.id, task.attempts);
  const reported = outcome.kind === 'cancelled' || after !== undefined ? outcome.kind : 'stale';
  ctx.tell(parent.ref, { type: 'agent.task_done', done: { agentId: agent.id, taskId: task.id, outcome: reported, durationMs } });
}

/** The actor of one local agent (a child of agent_management, named by the agent id). */
export function agentSpec(deps: ModuleDeps, agent: Agent, parent: AgentParent): ActorSpec<AgentMsg, null> {
  return {
    name: `agent-${agent.id}`,
    init: (ctx) => {
      recover(deps, agent, ctx, 0); // ends reported to an earlier incarnation that stopped before storing them
      return null;
    },
    receive: async (state, msg, ctx) => {
      switch (msg.type) {
        case 'agent.run':
          await run(deps, agent, parent, msg.task, ctx);
          return state;
        case 'agent.finished':
          await finish(deps, agent, parent, { id: msg.taskId, attempts: msg.attempt }, ctx);
          return state;
        case 'agent.recover':
          recover(deps, agent, ctx, 2000);
          return state;
        default:
          return assertNever(msg);
      }
    },
  };
}
