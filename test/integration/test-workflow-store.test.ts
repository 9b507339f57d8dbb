/**
 * Workflows in the store, on both engines: an attempt that waits (a timer, a
 * signal, an approval, its children), the wakes and timeouts, signals kept for
 * later, the child-failure policies, cancelling a tree, and progress records.
 */
import assert from 'node:assert/strict';
import { parseWaitRequest, type NewSchedule, type NewTask, type Schedule, type Task } from '../../src/domain/index.js';
import type { Store, TaskFinish } from '../../src/storage/index.js';
import type { HubError } from '../../src/errors/index.js';
import { requirePostgres } from '../helpers/postgres.js';
import { STORE_ENGINES, type OpenedStore } from '../helpers/stores.js';
import { newTask } from '../helpers/tasks.js';

const NODE = 'n1';
const BACKOFF = { initialMs: 1000, maxMs: 1000, multiplier: 1, jitter: 0 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const end = (t: Task, over: Partial<TaskFinish> = {}): TaskFinish => ({
  id: t.id,
  epoch: t.lease_epoch,
  status: 'completed',
  agentId: null,
  result: { done: t.title },
  startedAt: new Date().toISOString(),
  completedAt: new Date().toISOString(),
  ...over,
});
const waitEnd = (t: Task, wait: unknown): TaskFinish =>
  end(t, { status: 'waiting', completedAt: null, result: undefined, wait: parseWaitRequest(wait, 'wait', Date.now()) });

for (const engine of STORE_ENGINES) {
  describe(`workflows in the store: ${engine.name}`, function () {
    this.timeout(30_000);
    let opened: OpenedStore;
    let store: Store;

    beforeEach(async function () {
      if (engine.name === 'postgres') await requirePostgres(this);
      opened = await engine.open();
      store = opened.store;
    });
    afterEach(() => opened?.cleanup());

    const submit = async (over: Partial<NewTask> = {}): Promise<Task> =>
      (await store.createTasks([newTask(over)], NODE))[0]!.task;
    const claimOne = async (id: string): Promise<Task> => {
      const [t] = await store.claimTasks({ nodeId: NODE, limit: 1, leaseMs: 30_000, ids: [id] });
      assert.ok(t, `task ${id} is claimable`);
      return t;
    };
    const get = async (id: string): Promise<Task> => (await store.getTask(id))!;

    it('a timer: waiting holds nothing, wakes at its time, and the next attempt gets the checkpoint', async () => {
      const t = await claimOne((await submit({ max_attempts: 1 })).id);
      const out = await store.finishTasks([waitEnd(t, { sleep_ms: 300, checkpoint: { step: 2 } })], NODE);
      assert.deepEqual(out.applied, [{ id: t.id, status: 'waiting' }]);
      const waiting = await get(t.id);
      assert.equal(waiting.status, 'waiting');
      assert.deepEqual(await store.countWaiting(), { timer: 1, signal: 0, approval: 0, children: 0 });
      assert.equal(waiting.attempts, 0, 'a wait does not count as an attempt');
      assert.equal(waiting.lease_owner, null);
      assert.deepEqual(waiting.checkpoint, { step: 2 });
      assert.equal((await store.claimTasks({ nodeId: NODE, limit: 10, leaseMs: 1000 })).length, 0);
      assert.equal((await store.wakeDue(NODE, 10, BACKOFF)).woken.length, 0, 'not yet');
      assert.ok((await store.nextWakeAt())! <= waiting.wake_at!);
      await sleep(350);
      const woke = await store.wakeDue(NODE, 10, BACKOFF);
      assert.deepEqual(
        woke.woken.map((w) => w.id),
        [t.id],
      );
      assert.equal((await store.wakeDue(NODE, 10, BACKOFF)).woken.length, 0, 'once');
      const again = await claimOne(t.id);
      assert.equal(again.attempts, 1);
      assert.deepEqual(again.checkpoint, { step: 2 });
      assert.equal(again.resume?.reason, 'timer');
      const events = await store.listTaskEvents(t.id);
      assert.ok(events.some((e) => e.from_status === 'running' && e.to_status === 'waiting'));
      assert.ok(events.some((e) => e.from_status === 'waiting' && e.to_status === 'pending'));
    });

    it('a signal sent before the wait is kept; one sent after wakes the task; none reaches an ended task', async () => {
      const t = await claimOne((await submit()).id);
      const early = await store.signalTask(t.id, { name: 'go', payload: { n: 1 }, sentBy: 'alice' }, NODE);
      assert.equal(early.outcome, 'stored');
      assert.equal(early.outcome === 'stored' && early.woke, false);
      const out = await store.finishTasks([waitEnd(t, { signal: 'go' })], NODE);
      assert.equal(out.changed.length, 1, 'woken at once by the kept signal');
      const resumed = await get(t.id);
      assert.equal(resumed.status, 'pending');
      assert.deepEqual(resumed.resume?.signal, { name: 'go', payload: { n: 1 }, sent_by: 'alice' });

      const t2 = await claimOne(t.id);
      await store.finishTasks([waitEnd(t2, { signal: 'go', timeout_ms: 60_000 })], NODE);
      assert.equal((await get(t.id)).status, 'waiting', 'the first signal was used up');
      assert.deepEqual(await store.countWaiting(), { timer: 0, signal: 1, approval: 0, children: 0 });
      const other = await store.signalTask(t.id, { name: 'other', payload: null, sentBy: null }, NODE);
      assert.equal(other.outcome === 'stored' && other.woke, false, 'another name does not wake it');
      const late = await store.signalTask(t.id, { name: 'go', payload: 'late', sentBy: 'bob' }, NODE);
      assert.equal(late.outcome === 'stored' && late.woke, true);
      const t3 = await claimOne(t.id);
      assert.equal(t3.resume?.signal?.payload, 'late');
      await store.finishTasks([end(t3)], NODE);
      assert.deepEqual(await store.signalTask(t.id, { name: 'go', payload: null, sentBy: null }, NODE), {
        outcome: 'ended',
        status: 'completed',
      });
      assert.deepEqual(
        await store.signalTask(
          '00000000-0000-4000-8000-000000000009',
          { name: 'go', payload: null, sentBy: null },
          NODE,
        ),
        {
          outcome: 'not_found',
        },
      );
    });

    it('a task submitted waiting for approval: a rejection fails it, an approval runs it', async () => {
      const gated = await submit({
        wait: { wait_for: { kind: 'signal', signal: 'approval', timeout_ms: null }, wake_at: null },
      });
      assert.equal(gated.status, 'waiting');
      assert.deepEqual(await store.countWaiting(), { timer: 0, signal: 0, approval: 1, children: 0 });
      const r = await store.signalTask(
        gated.id,
        { name: 'approval', payload: { approved: false, reason: 'no' }, sentBy: 'op' },
        NODE,
      );
      assert.equal(r.outcome === 'stored' && r.task.status, 'failed');
      assert.equal((await get(gated.id)).error?.code, 'APPROVAL_REJECTED');
      const ok = await submit({
        wait: { wait_for: { kind: 'signal', signal: 'approval', timeout_ms: null }, wake_at: null },
      });
      await store.signalTask(ok.id, { name: 'approval', payload: { approved: true }, sentBy: 'op' }, NODE);
      const t = await claimOne(ok.id);
      assert.deepEqual(t.resume?.signal?.payload, { approved: true });
    });

    it('a wait that times out is a failed attempt: retried while attempts last, then dead', async () => {
      const t = await claimOne((await submit({ max_attempts: 2 })).id);
      await store.finishTasks([waitEnd(t, { signal: 'never', timeout_ms: 50 })], NODE);
      await sleep(80);
      const first = await store.wakeDue(NODE, 10, BACKOFF);
      assert.equal(first.woken[0]?.status, 'pending');
      assert.equal(first.woken[0]?.error?.code, 'WAIT_TIMEOUT');
      assert.ok(Date.parse(first.woken[0].run_at!) > Date.now() + 500, 'after the backoff');
      const t2 = await store.claimTasks({ nodeId: NODE, limit: 1, leaseMs: 1000 });
      assert.equal(t2.length, 0, 'not before its backoff');
    });

    it('the last attempt of a timed-out wait is dead-lettered', async () => {
      const t = await claimOne((await submit({ max_attempts: 1 })).id);
      const child = await submit({ parent_id: t.id });
      await store.finishTasks([waitEnd(t, { children: 'all', timeout_ms: 30 })], NODE);
      await sleep(60);
      const out = await store.wakeDue(NODE, 10, BACKOFF);
      assert.deepEqual(
        out.expired.map((x) => x.id),
        [t.id],
      );
      assert.equal((await get(t.id)).status, 'dead');
      assert.equal((await get(child.id)).status, 'cancelled', 'its open children are cancelled');
    });

    it('fan-out and fan-in: a parent waits for 100 children and receives their results', async () => {
      const parent = await claimOne((await submit({ title: 'parent' })).id);
      const kids = (
        await store.createTasks(
          Array.from({ length: 100 }, (_, i) => newTask({ title: `child ${i}`, parent_id: parent.id })),
          NODE,
        )
      ).map((r) => r.task);
      await store.finishTasks([waitEnd(parent, { children: 'all', checkpoint: { planned: 100 } })], NODE);
      const claimed = await store.claimTasks({ nodeId: NODE, limit: 200, leaseMs: 30_000 });
      assert.equal(claimed.length, 100);
      const out = await store.finishTasks(
        claimed.slice(0, 99).map((c) => end(c)),
        NODE,
      );
      assert.equal(out.changed.length, 0);
      assert.equal((await get(parent.id)).status, 'waiting');
      const last = await store.finishTasks([end(claimed[99]!)], NODE);
      assert.deepEqual(
        last.changed.map((c) => c.id),
        [parent.id],
      );
      const resumed = await claimOne(parent.id);
      assert.equal(resumed.resume?.reason, 'children');
      assert.equal(resumed.resume?.children?.length, 100);
      assert.deepEqual(
        resumed.resume?.children?.map((c) => c.result),
        kids.map((k) => ({ done: k.title })),
      );
      const tree = await store.taskTree(parent.id, 1000);
      assert.equal(tree?.tree.children.length, 100);
      assert.equal(tree?.truncated, false);
      assert.equal((await store.taskTree(parent.id, 10))?.truncated, true);
    });

    it('a failing child with each policy: fail, retry, ignore', async () => {
      const run = async (policy: string): Promise<{ parent: Task; kids: Task[] }> => {
        const parent = await claimOne((await submit({ title: policy })).id);
        const kids = [await submit({ parent_id: parent.id }), await submit({ parent_id: parent.id })];
        await store.finishTasks(
          [waitEnd(parent, { children: 'all', on_child_failure: policy, child_retries: 1 })],
          NODE,
        );
        return { parent, kids };
      };
      const fail = async (id: string): Promise<void> => {
        const c = await claimOne(id);
        const err = { code: 'BOOM', message: 'boom', retryable: false };
        await store.finishTasks([end(c, { status: 'failed', error: err, result: undefined })], NODE);
      };

      const f = await run('fail');
      await fail(f.kids[0]!.id);
      assert.equal((await get(f.parent.id)).status, 'failed');
      assert.equal((await get(f.parent.id)).error?.code, 'CHILD_FAILED');
      assert.equal((await get(f.kids[1]!.id)).status, 'cancelled', 'the other child is cancelled');

      const r = await run('retry');
      await fail(r.kids[0]!.id);
      const again = await get(r.kids[0]!.id);
      assert.equal(again.status, 'pending', 'run again');
      assert.equal((await get(r.parent.id)).status, 'waiting');
      await fail(r.kids[0]!.id);
      assert.equal((await get(r.parent.id)).status, 'failed', 'retries spent');

      const g = await run('ignore');
      await fail(g.kids[0]!.id);
      await store.finishTasks([end(await claimOne(g.kids[1]!.id))], NODE);
      const woke = await get(g.parent.id);
      assert.equal(woke.status, 'pending');
      assert.deepEqual(
        woke.resume?.children?.map((c) => c.status),
        ['failed', 'completed'],
      );
    });

    it('waiting for any child wakes at the first completion and leaves the others running', async () => {
      const parent = await claimOne((await submit({ title: 'any' })).id);
      const kids = [await submit({ parent_id: parent.id }), await submit({ parent_id: parent.id })];
      await store.finishTasks([waitEnd(parent, { children: 'any' })], NODE);
      const first = await claimOne(kids[1]!.id);
      const out = await store.finishTasks([end(first)], NODE);
      assert.deepEqual(
        out.changed.map((c) => c.id),
        [parent.id],
      );
      const woke = await get(parent.id);
      assert.deepEqual(
        woke.resume?.children?.map((c) => c.status),
        ['pending', 'completed'],
      );
      assert.equal((await get(kids[0]!.id)).status, 'pending', 'the other child runs on');
    });

    it('cancelling a parent cancels its descendants; a child of an ended parent is refused', async () => {
      const root = await submit({ title: 'root' });
      const mid = await submit({ parent_id: root.id });
      const leaf = await submit({ parent_id: mid.id });
      await store.transitionTask(root.id, { op: 'cancel', nodeId: NODE });
      const cancelled = await store.cancelChildren([root.id], 'parent cancelled', NODE);
      assert.deepEqual(new Set(cancelled.map((c) => c.id)), new Set([mid.id, leaf.id]));
      await assert.rejects(submit({ parent_id: root.id }), (e: HubError) => e.code === 'INVALID_STATE');
      await assert.rejects(
        submit({ parent_id: '00000000-0000-4000-8000-00000000000f' }),
        (e: HubError) => e.code === 'VALIDATION_FAILED' && e.details?.['field'] === 'parent_id',
      );
    });

    const SCHEDULE: NewSchedule = {
      name: 'every-second',
      cron: null,
      interval_ms: 1000,
      timezone: 'UTC',
      template: { title: 'tick' },
      overlap: 'allow',
      catchup: 'last',
      catchup_max: 10,
      paused: false,
    };
    const build = (_s: Schedule, tick: Date): NewTask => newTask({ title: `tick ${tick.toISOString()}` });

    it('schedules: due ticks fire once each, missed ones per the catch-up policy, overlap skips', async () => {
      // The pass runs at a fixed time (`at`), so that how long the statements take cannot add a tick.
      const at = new Date(Math.floor(Date.now() / 1000) * 1000);
      const past = new Date(at.getTime() - 5_500).toISOString();
      const s = await store.createSchedule(SCHEDULE, past);
      await assert.rejects(store.createSchedule(SCHEDULE, past), (e: HubError) => e.code === 'CONFLICT');
      const first = await store.fireSchedules(NODE, at, 1000, build);
      // 6 ticks due (-5.5 s .. -0.5 s): the one within the grace fires, of the 5 missed the latest fires (catch-up last).
      assert.equal(first.fired.length, 2);
      assert.equal(first.skipped.length, 4);
      assert.equal((await store.fireSchedules(NODE, at, 1000, build)).fired.length, 0, 'none twice');
      const after = await store.getSchedule(s.id);
      assert.equal(after?.fired, 2);
      assert.equal(after?.skipped, 4);
      assert.equal(after.next_run_at, new Date(at.getTime() + 500).toISOString());
      assert.equal((await store.getSchedule('every-second'))?.id, s.id, 'by name');
      const tasks = (await store.listTasks({ limit: 10, offset: 0 })).items;
      assert.equal(tasks.filter((t) => t.schedule_id === s.id).length, 2);

      const skip = await store.createSchedule({ ...SCHEDULE, name: 'skip', overlap: 'skip' }, past);
      const fired = await store.fireSchedules(NODE, new Date(), 1500, build);
      assert.equal(
        fired.fired.filter((f) => f.schedule === skip.id).length,
        1,
        'the second waits for the first: skipped',
      );
      const trig = await store.triggerSchedule(skip.id, NODE, build);
      assert.equal(trig?.task, null, 'a trigger follows the overlap policy too');
      assert.equal(await store.deleteSchedule(skip.id), true);
      const paused = await store.setSchedulePaused(s.id, true, null);
      assert.equal(paused?.paused, true);
      assert.equal(await store.nextScheduleAt(), undefined);
    });

    it('schedules: two stores firing at once never double a tick', async function () {
      if (opened.another === undefined) return this.skip();
      const other = await opened.another();
      await store.createSchedule(
        { ...SCHEDULE, catchup: 'all', catchup_max: 100 },
        new Date(Date.now() - 20_000).toISOString(),
      );
      const [a, b] = await Promise.all([
        store.fireSchedules('a', new Date(), 1500, build),
        other.fireSchedules('b', new Date(), 1500, build),
      ]);
      const ticks = [...a.fired, ...b.fired].map((f) => f.tick);
      assert.equal(new Set(ticks).size, ticks.length);
      assert.ok(ticks.length >= 20 && ticks.length <= 21, `${ticks.length} ticks`);
    });

    it('progress: records in order, the latest on the task, only the last N kept', async () => {
      const t = await submit();
      const at = new Date().toISOString();
      const recs = Array.from({ length: 30 }, (_, i) => ({
        task_id: t.id,
        seq: 1_000_000 + i,
        percent: i,
        message: `m${i}`,
        chunk: `c${i}`,
        at,
      }));
      const unknown = { ...recs[0]!, task_id: '00000000-0000-4000-8000-00000000000e' };
      assert.equal(await store.recordProgress([...recs, unknown], 10), 30);
      const kept = await store.listProgress(t.id, 0, 100);
      assert.deepEqual(
        kept.map((k) => k.chunk),
        recs.slice(20).map((r) => r.chunk),
      );
      assert.equal((await get(t.id)).progress?.percent, 29);
      assert.deepEqual(await store.countWaiting(), { timer: 0, signal: 0, approval: 0, children: 0 });
    });
  });
}
