/**
 * Every submission path follows the same rules: room under [tasks] max_pending, a
 * task.created event for each task created. The dependency path used to skip both
 * (issue 15's drift).
 */
import assert from 'node:assert/strict';
import { hubStack, type HubStack } from '../../bench/lib/hub-stack.js';
import type { Submitted, TaskManagementMsg } from '../../actors/task-distributor/messages.js';
import type { HubEvent, ReplyTo } from '../../src/runtime/index.js';
import type { NewTask } from '../../src/domain/index.js';
import { newTask } from '../helpers/tasks.js';

/** Nobody can run these: they stay pending. */
const stuck = (over: Partial<NewTask>): NewTask =>
  newTask({ required_capabilities: [{ name: 'nobody-has-it', min_proficiency: 0 }], ...over });

describe('submission rules on every path', function () {
  this.timeout(30_000);
  let stack: HubStack;
  const events: HubEvent[] = [];
  before(async () => {
    stack = await hubStack({
      HIVE_AGENTS_DEFAULT_POOL_SIZE: '0',
      HIVE_TASKS_MAX_PENDING: '3',
      HIVE_NEURAL_ENABLED: 'false',
    });
    stack.events.subscribe((e) => events.push(e));
  });
  after(async () => stack?.close());

  const submit = (t: Partial<NewTask>): Promise<Submitted> =>
    stack.hive.ask(stack.hive.modules.task_management, (replyTo: ReplyTo<Submitted>): TaskManagementMsg => ({
      type: 'task.submit',
      task: stuck(t),
      replyTo,
    }));
  const created = (id: string): number =>
    events.filter((e) => e.type === 'task.created' && (e.data as { id: string }).id === id).length;

  it('a submission with dependencies gets task.created and counts against max_pending, as the others do', async () => {
    const a = (await submit({ title: 'a' })).task;
    const b = (await submit({ title: 'b', depends_on: [a.id] })).task;
    const c = (await submit({ title: 'c' })).task;
    assert.deepEqual([created(a.id), created(b.id), created(c.id)], [1, 1, 1], 'one task.created each');
    // Three pending now: neither path has room for a fourth.
    await assert.rejects(
      submit({ title: 'd', depends_on: [a.id] }),
      (err: Error & { code?: string }) => err.code === 'QUEUE_FULL',
    );
    await assert.rejects(submit({ title: 'e' }), (err: Error & { code?: string }) => err.code === 'QUEUE_FULL');
    assert.equal((await stack.store.countTasksByStatus()).pending, 3, 'nothing refused was stored');
  });

  it('a refusal is decided on a fresh count: room freed since the estimate is room', async () => {
    // The actor's estimate still says 3 pending; cancelling one (through the store, not the actor) frees room.
    const victim = (await stack.store.listTasks({ limit: 1, offset: 0, status: 'pending' })).items[0];
    assert.ok(victim !== undefined);
    assert.ok(await stack.store.transitionTask(victim.id, { op: 'cancel', nodeId: 'test' }));
    const f = await submit({ title: 'f' });
    assert.equal(f.created, true, 'accepted on the fresh count');
    assert.equal(created(f.task.id), 1);
    await assert.rejects(submit({ title: 'g' }), (err: Error & { code?: string }) => err.code === 'QUEUE_FULL');
  });
});
