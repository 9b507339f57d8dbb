/**
 * The hive's periodic work goes through the actor system's clock: with a
 * clock the test drives, nothing periodic happens until the test ticks it
 * (here: the engine's expiry sweep requeues a task whose lease ran out, only
 * when the tick comes), and stopping the timers removes every one of them.
 */
import assert from 'node:assert/strict';
import type { ReplyTo } from '../../src/runtime/index.js';
import { hubStack } from '../../bench/lib/hub-stack.js';
import type { AgentManagementMsg, AgentView } from '../../actors/agent-management/messages.js';
import { manualClock } from '../helpers/runtime.js';
import { waitFor } from '../helpers/wait-for.js';
import { createOne, newTask } from '../helpers/tasks.js';

describe('hive timers on the injected clock', function () {
  this.timeout(20_000);

  it('runs the periodic work only when the clock ticks, and stops every timer', async () => {
    const clock = manualClock();
    const stack = await hubStack({ HIVE_AGENTS_DEFAULT_POOL_SIZE: '0' }, {}, { clock });
    const { store, hive, engine } = stack;
    try {
      const intervals = engine.tickIntervals();
      for (const ms of [intervals.heartbeat, intervals.sweep, 1000])
        assert.ok(clock.periods().includes(ms), `a tick every ${ms} ms`);
      // A task leased to a node that is gone, its lease already expired.
      const { task } = await createOne(store, newTask({ title: 'orphan' }), 'bench');
      const [claimed] = await store.claimTasks({ nodeId: 'gone', limit: 1, leaseMs: 1 });
      assert.equal(claimed?.id, task.id);
      await hive.ask(hive.modules.agent_management, (replyTo: ReplyTo<AgentView>): AgentManagementMsg => ({
        type: 'agent.register',
        agent: {
          name: 'echo-1',
          type: 'worker',
          capabilities: [],
          executor: 'echo',
          kind: 'local',
          max_concurrency: 1,
        },
        replyTo,
      }));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await store.getTask(task.id))?.status, 'assigned', 'no sweep ran without a tick');
      assert.ok(clock.tick(1000) > 0);
      await waitFor(async () => (await store.getTask(task.id))?.status === 'completed', 5000, 'the swept task to run');
      assert.equal(engine.stats().expired_requeued, 1);
    } finally {
      hive.stopTimers();
      assert.deepEqual(clock.periods(), [], 'every timer stopped');
      await stack.close();
    }
  });
});
