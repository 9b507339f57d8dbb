import assert from 'node:assert/strict';
import { ActorCrashedError, ActorStoppedError, AskTimeoutError, MailboxFullError } from '../../src/errors/index.js';
import type { ActorRef, ActorSpec, DeadLetter, ReplyTo } from '../../src/runtime/index.js';
import { counterValue, recordingClock, testSystem } from '../helpers/runtime.js';
import { waitFor } from '../helpers/wait-for.js';

type CounterMsg =
  | { type: 'add'; n: number }
  | { type: 'get'; replyTo: ReplyTo<number> }
  | { type: 'crash'; replyTo?: ReplyTo<number> }
  | { type: 'block'; until: Promise<void> }
  | { type: 'ignore'; replyTo: ReplyTo<number> };

let inits = 0;
const counter = (name: string, extra: Partial<ActorSpec<CounterMsg, number>> = {}): ActorSpec<CounterMsg, number> => ({
  name,
  init: () => {
    inits++;
    return 0;
  },
  receive: async (state, msg) => {
    switch (msg.type) {
      case 'add':
        return state + msg.n;
      case 'get':
        msg.replyTo.ok(state);
        return state;
      case 'crash':
        throw new Error('injected fault');
      case 'block':
        await msg.until;
        return state;
      case 'ignore':
        return state;
    }
  },
  ...extra,
});

describe('actor runtime', () => {
  it('delivers tells in order and answers asks with typed replies', async () => {
    const { system } = testSystem();
    const ref = system.spawn(counter('c'));
    for (let i = 1; i <= 10; i++) system.tell(ref, { type: 'add', n: i });
    assert.equal(await system.ask(ref, (replyTo: ReplyTo<number>): CounterMsg => ({ type: 'get', replyTo })), 55);
    await system.shutdown();
  });

  it('rejects an unanswered ask with a typed timeout error', async () => {
    const { system } = testSystem();
    const ref = system.spawn(counter('c'));
    await assert.rejects(
      system.ask(ref, (replyTo: ReplyTo<number>): CounterMsg => ({ type: 'ignore', replyTo }), 30),
      (err: unknown) => {
        assert.ok(err instanceof AskTimeoutError);
        assert.equal(err.code, 'ACTOR_TIMEOUT');
        return true;
      },
    );
    await system.shutdown();
  });

  it('restarts a crashed actor with fresh state and fails the crashing ask', async () => {
    const clock = recordingClock();
    const { system, metrics } = testSystem({ clock });
    const ref = system.spawn(counter('c'));
    system.tell(ref, { type: 'add', n: 5 });
    const before = inits;
    await assert.rejects(
      system.ask(ref, (replyTo: ReplyTo<number>): CounterMsg => ({ type: 'crash', replyTo })),
      ActorCrashedError,
    );
    assert.equal(await system.ask(ref, (replyTo: ReplyTo<number>): CounterMsg => ({ type: 'get', replyTo })), 0);
    assert.ok(inits > before, 'init ran again after the restart');
    assert.equal(system.info(ref).restarts, 1);
    assert.equal(system.info(ref).lastError, 'injected fault');
    assert.equal(await counterValue(metrics, 'hive_actor_restarts_total', { actor: '/c', reason: 'crash' }), 1);
    await system.shutdown();
  });

  it('backs off exponentially between restarts', async () => {
    const clock = recordingClock();
    const { system } = testSystem({
      clock,
      policy: { kind: 'restart', maxRestarts: 10, withinMs: 60_000, backoffInitialMs: 10, backoffMaxMs: 50 },
    });
    const ref = system.spawn(counter('c'));
    for (let i = 0; i < 5; i++) {
      system.tell(ref, { type: 'crash' });
      await waitFor(() => clock.sleeps.length === i + 1 && system.info(ref).status === 'running');
    }
    assert.deepEqual(clock.sleeps, [10, 20, 40, 50, 50]);
    await system.shutdown();
  });

  it('keeps messages that arrive during the backoff and handles them after the restart', async () => {
    const { system } = testSystem({
      policy: { kind: 'restart', maxRestarts: 3, withinMs: 60_000, backoffInitialMs: 50, backoffMaxMs: 50 },
    });
    const ref = system.spawn(counter('c'));
    system.tell(ref, { type: 'crash' });
    system.tell(ref, { type: 'add', n: 7 });
    assert.equal(await system.ask(ref, (replyTo: ReplyTo<number>): CounterMsg => ({ type: 'get', replyTo })), 7);
    await system.shutdown();
  });

  it('escalates after too many restarts; the parent hears of it and siblings keep answering', async () => {
    type ParentMsg = { type: 'child.failed'; name: string } | { type: 'failures'; replyTo: ReplyTo<string[]> };
    const failures: string[] = [];
    let flaky: ActorRef<CounterMsg> | undefined;
    let steady: ActorRef<CounterMsg> | undefined;
    const { system, metrics } = testSystem({ clock: recordingClock() });
    const parent = system.spawn<ParentMsg, null>({
      name: 'parent',
      init: (ctx) => {
        flaky = ctx.spawn(counter('flaky'));
        steady = ctx.spawn(counter('steady'));
        return null;
      },
      receive: (state, msg) => {
        if (msg.type === 'child.failed') failures.push(msg.name);
        else msg.replyTo.ok(failures);
        return state;
      },
      childFailed: (name) => ({ type: 'child.failed', name }),
    });
    await waitFor(() => flaky !== undefined && steady !== undefined);
    for (let i = 0; i < 4; i++) {
      system.tell(flaky!, { type: 'crash' });
      assert.equal(
        await system.ask(steady!, (replyTo: ReplyTo<number>): CounterMsg => ({ type: 'get', replyTo })),
        0,
        'sibling answers meanwhile',
      );
      await waitFor(() => ['running', 'failed'].includes(system.info(flaky!).status));
    }
    await waitFor(() => failures.length === 1);
    assert.deepEqual(failures, ['flaky']);
    assert.equal(system.info(flaky!).status, 'failed');
    assert.equal(system.info(parent).status, 'running');
    assert.equal(await counterValue(metrics, 'hive_actor_escalations_total', { actor: '/parent/flaky' }), 1);
    assert.throws(() => system.tell(flaky!, { type: 'add', n: 1 }), ActorStoppedError);
    system.restart(flaky!);
    assert.equal(
      await system.ask(flaky!, (replyTo: ReplyTo<number>): CounterMsg => ({ type: 'get', replyTo })),
      0,
      'respawned on request',
    );
    await system.shutdown();
  });

  it('refuses messages beyond the mailbox bound with QUEUE_FULL', async () => {
    const { system, metrics } = testSystem({ mailboxBound: 3 });
    const ref = system.spawn(counter('c'));
    let release!: () => void;
    const until = new Promise<void>((r) => (release = r));
    system.tell(ref, { type: 'block', until });
    await waitFor(() => system.info(ref).mailboxDepth === 0);
    for (let i = 0; i < 3; i++) system.tell(ref, { type: 'add', n: 1 });
    assert.throws(
      () => system.tell(ref, { type: 'add', n: 1 }),
      (err: unknown) => err instanceof MailboxFullError && err.code === 'QUEUE_FULL',
    );
    await assert.rejects(
      system.ask(ref, (replyTo: ReplyTo<number>): CounterMsg => ({ type: 'get', replyTo })),
      MailboxFullError,
    );
    assert.equal(await counterValue(metrics, 'hive_mailbox_rejections_total', { actor: '/c' }), 2);
    release();
    await waitFor(() => system.info(ref).mailboxDepth === 0);
    assert.equal(await system.ask(ref, (replyTo: ReplyTo<number>): CounterMsg => ({ type: 'get', replyTo })), 3);
    await system.shutdown();
  });

  it('reports dead letters: tells to a stopped actor, its leftover mailbox and its open asks', async () => {
    const { system, metrics } = testSystem();
    const letters: DeadLetter[] = [];
    system.onDeadLetter((d) => letters.push(d));
    const ref = system.spawn(counter('c'));
    let release!: () => void;
    system.tell(ref, { type: 'block', until: new Promise<void>((r) => (release = r)) });
    await waitFor(() => system.info(ref).mailboxDepth === 0);
    const waiting = system.ask(ref, (replyTo: ReplyTo<number>): CounterMsg => ({ type: 'get', replyTo }));
    system.tell(ref, { type: 'add', n: 1 });
    system.stop(ref);
    await assert.rejects(waiting, ActorStoppedError);
    await waitFor(() => system.info(ref).status === 'stopped');
    assert.throws(() => system.tell(ref, { type: 'add', n: 1 }), ActorStoppedError);
    release();
    const reasons = letters.map((l) => `${l.reason}:${l.messageType}`).sort();
    assert.deepEqual(reasons, ['actor_stopped:add', 'stopped_mailbox:add', 'stopped_mailbox:get']);
    assert.equal(await counterValue(metrics, 'hive_dead_letters_total', { actor: '/c', reason: 'stopped_mailbox' }), 2);
    await system.shutdown();
  });

  it('fails an ask the actor kept but never answered when it stops', async () => {
    type KeepMsg = { type: 'keep'; replyTo: ReplyTo<number> };
    const { system } = testSystem();
    const ref = system.spawn<KeepMsg, ReplyTo<number>[]>({
      name: 'keeper',
      init: () => [],
      receive: (s, m) => [...s, m.replyTo],
    });
    const kept = system.ask(ref, (replyTo: ReplyTo<number>): KeepMsg => ({ type: 'keep', replyTo }), 5000);
    await waitFor(() => system.info(ref).mailboxDepth === 0 && system.info(ref).status === 'running');
    await new Promise((r) => setImmediate(r));
    system.stop(ref);
    await assert.rejects(kept, ActorStoppedError);
    await system.shutdown();
  });

  it('resumes with its state under the resume policy', async () => {
    const { system } = testSystem();
    const ref = system.spawn(counter('c', { supervision: { kind: 'resume' } }));
    system.tell(ref, { type: 'add', n: 4 });
    system.tell(ref, { type: 'crash' });
    assert.equal(await system.ask(ref, (replyTo: ReplyTo<number>): CounterMsg => ({ type: 'get', replyTo })), 4);
    await system.shutdown();
  });

  it('stops the actor under the stop policy', async () => {
    const { system } = testSystem();
    const ref = system.spawn(counter('c', { supervision: { kind: 'stop' } }));
    system.tell(ref, { type: 'crash' });
    await waitFor(() => system.info(ref).status === 'stopped');
    await system.shutdown();
  });

  it('restarts by request, rebuilding state and the children, keeping refs valid', async () => {
    let child: ActorRef<CounterMsg> | undefined;
    const { system } = testSystem();
    const parent = system.spawn<{ type: 'noop' }, null>({
      name: 'p',
      init: (ctx) => {
        child = ctx.spawn(counter('kid'));
        return null;
      },
      receive: (s) => s,
    });
    await waitFor(() => child !== undefined);
    const first = child!;
    system.tell(first, { type: 'add', n: 9 });
    assert.equal(await system.ask(first, (replyTo: ReplyTo<number>): CounterMsg => ({ type: 'get', replyTo })), 9);
    system.restart(parent);
    await waitFor(() => system.info(parent).restarts === 1 && system.info(first).status === 'running');
    assert.equal(
      await system.ask(first, (replyTo: ReplyTo<number>): CounterMsg => ({ type: 'get', replyTo })),
      0,
      'old ref reaches the new child',
    );
    await system.shutdown();
  });

  it('reset re-runs init without counting a restart', async () => {
    const { system } = testSystem();
    const ref = system.spawn(counter('c'));
    system.tell(ref, { type: 'add', n: 2 });
    system.reset(ref);
    assert.equal(await system.ask(ref, (replyTo: ReplyTo<number>): CounterMsg => ({ type: 'get', replyTo })), 0);
    assert.equal(system.info(ref).restarts, 0);
    await system.shutdown();
  });

  it('hands what an incarnation accepted but did not serve to the next one (crash and request), and keeps no closure state', async () => {
    type QueueMsg =
      | { type: 'take'; n: number; replyTo: ReplyTo<number> }
      | { type: 'serve' }
      | { type: 'crash' }
      | { type: 'restart-me' };
    const served: number[] = [];
    const { system } = testSystem({
      policy: { kind: 'restart', maxRestarts: 5, withinMs: 60_000, backoffInitialMs: 5, backoffMaxMs: 5 },
    });
    const ref = system.spawn<QueueMsg, { queue: Array<{ n: number; replyTo: ReplyTo<number> }> }>({
      name: 'q',
      init: () => ({ queue: [] }),
      receive: (state, msg) => {
        switch (msg.type) {
          case 'take':
            state.queue.push({ n: msg.n, replyTo: msg.replyTo });
            return state;
          case 'serve':
            for (const q of state.queue.splice(0)) {
              served.push(q.n);
              q.replyTo.ok(q.n * 10);
            }
            return state;
          case 'crash':
            throw new Error('injected fault');
          case 'restart-me':
            return state;
        }
      },
      handOver: (state, ctx) => {
        for (const q of state.queue.splice(0)) ctx.tell(ctx.self, { type: 'take', n: q.n, replyTo: q.replyTo });
      },
    });
    const take = (n: number): Promise<number> =>
      system.ask(ref, (replyTo: ReplyTo<number>): QueueMsg => ({ type: 'take', n, replyTo }));
    const first = [take(1), take(2)];
    system.tell(ref, { type: 'crash' });
    const second = take(3);
    await waitFor(() => system.info(ref).restarts === 1 && system.info(ref).status === 'running');
    system.restart(ref);
    await waitFor(() => system.info(ref).restarts === 2 && system.info(ref).status === 'running');
    system.tell(ref, { type: 'serve' });
    assert.deepEqual(await Promise.all([...first, second]), [10, 20, 30], 'each accepted request answered once');
    assert.deepEqual([...served].sort(), [1, 2, 3]);
    await system.shutdown();
  });

  it('lets a reset find its live children by name instead of spawning them again', async () => {
    const found: boolean[] = [];
    const { system } = testSystem();
    const parent = system.spawn<{ type: 'noop' }, null>({
      name: 'p',
      init: (ctx) => {
        const existing = ctx.child<CounterMsg>('kid');
        found.push(existing !== undefined);
        if (existing === undefined) ctx.spawn(counter('kid'));
        return null;
      },
      receive: (s) => s,
    });
    await waitFor(() => found.length === 1);
    system.reset(parent);
    await waitFor(() => found.length === 2);
    assert.deepEqual(found, [false, true]);
    assert.equal(system.info(parent).crashes, 0);
    await system.shutdown();
  });
});
