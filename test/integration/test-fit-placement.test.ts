/**
 * The distributor places claimed tasks by the neural agent-fit model when it is
 * on, and by declared capabilities when it is off: two agents whose declared
 * proficiency and record disagree get the tasks in opposite proportions.
 */
import assert from 'node:assert/strict';
import { hubStack, type HubStack } from '../../bench/lib/hub-stack.js';
import type { AgentManagementMsg, AgentView } from '../../actors/agent-management/messages.js';
import type { Submitted, TaskManagementMsg } from '../../actors/task-distributor/messages.js';
import type { NewTask } from '../../src/domain/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import { waitFor } from '../helpers/wait-for.js';

function task(i: number): NewTask {
  return {
    title: `write ${i}`,
    description: '',
    type: 'general',
    priority: 'medium',
    required_capabilities: [{ name: 'writing', min_proficiency: 0 }],
    payload: null,
    max_attempts: 1,
    timeout_ms: 10_000,
    run_at: null,
    idempotency_key: null,
    depends_on: [],
  };
}

/** Registers two writers: A claims a lot (proficiency 1.0) but mostly failed; B claims less (0.5) and never failed. Returns where 6 tasks (fewer than their 16 queue slots) were placed. */
async function placements(fitPlacement: boolean): Promise<{ a: number; b: number; fitScored: number }> {
  const stack: HubStack = await hubStack({
    HIVE_DATABASE_DATA_DIR: ':memory:',
    HIVE_AGENTS_DEFAULT_POOL_SIZE: '0',
    HIVE_AGENTS_LEARNING_RATE: '0',
    HIVE_NEURAL_FIT_PLACEMENT: String(fitPlacement),
  });
  try {
    const register = (name: string, proficiency: number) =>
      stack.hive.ask(stack.hive.modules.agent_management, (replyTo: ReplyTo<AgentView>): AgentManagementMsg => ({
        type: 'agent.register',
        agent: {
          name,
          type: 'worker',
          capabilities: [{ name: 'writing', proficiency }],
          executor: 'echo',
          kind: 'local',
          max_concurrency: 2,
        },
        replyTo,
      }));
    const a = await register('claims-much', 1.0);
    const b = await register('does-well', 0.5);
    await stack.store.updateAgent(a.id, {
      stats: { tasks_completed: 30, tasks_failed: 70, success_rate: 0.3, average_duration_ms: 100 },
    });
    await stack.store.updateAgent(b.id, {
      stats: { tasks_completed: 100, tasks_failed: 0, success_rate: 1, average_duration_ms: 100 },
    });
    stack.hive.resetModule('agent_management'); // the runner takes the stored records
    await stack.hive.ping('agent_management');
    const got = await stack.hive.ask(
      stack.hive.modules.agent_management,
      (replyTo: ReplyTo<AgentView>): AgentManagementMsg => ({ type: 'agent.get', id: a.id, replyTo }),
    );
    assert.equal(got.stats.success_rate, 0.3, 'the stored record was loaded');
    // The agent each placement chose, read when it is published (an idle agent may steal the task later).
    const assigned: string[] = [];
    stack.events.subscribe((e) => {
      if (e.type === 'task.assigned') assigned.push((e.data as { assigned_agent: string }).assigned_agent);
    });
    await stack.hive.ask(stack.hive.modules.task_management, (replyTo: ReplyTo<Submitted[]>): TaskManagementMsg => ({
      type: 'task.submit_bulk',
      tasks: Array.from({ length: 6 }, (_, i) => task(i)),
      replyTo,
    }));
    await waitFor(() => assigned.length >= 6, 10_000, '6 placements');
    const on = (id: string): number => assigned.slice(0, 6).filter((agent) => agent === id).length;
    return { a: on(a.id), b: on(b.id), fitScored: stack.engine.stats().fit_scored };
  } finally {
    await stack.close();
  }
}

describe('placement by the agent-fit model', function () {
  this.timeout(60_000);

  it('with the fit model, most tasks go to the agent whose record is good; by declared capabilities, to the one that claims more', async () => {
    const fit = await placements(true);
    const declared = await placements(false);
    assert.ok(fit.fitScored > 0, 'the fit model scored the pairs');
    assert.equal(declared.fitScored, 0);
    assert.ok(fit.b > fit.a, `fit model: ${JSON.stringify(fit)}`);
    assert.ok(declared.a > declared.b, `declared: ${JSON.stringify(declared)}`);
  });
});
