/** The engine's parts on their own: the one best-slot rule (claim placement, hand-off, stealing) and how an agent runs a task. */
import assert from 'node:assert/strict';
import { EMPTY_STATS, type Agent, type Task } from '../../src/domain/index.js';
import { idleSlotFor, newSlot, slotFor, victimFor, type Slot } from '../../src/engine/placement.js';
import { handlerFor } from '../../src/engine/execution.js';
import { Sessions } from '../../src/engine/sessions.js';
import { TaskFailure } from '../../src/engine/handler.js';
import { HandOff } from '../../src/engine/handoff.js';
import type { Claimer } from '../../src/engine/claimer.js';
import { newCounters } from '../../src/engine/types.js';
import { EventBus } from '../../src/runtime/index.js';
import { createLogger } from '../../src/log/logger.js';
import type { NewTask } from '../../src/domain/index.js';
import { newTask } from '../helpers/tasks.js';

function agent(name: string, caps: Array<[string, number]>, over: Partial<Agent> = {}): Agent {
  return {
    id: name,
    name,
    type: 'worker',
    state: 'idle',
    kind: 'local',
    executor: 'echo',
    capabilities: caps.map(([n, p]) => ({ name: n, proficiency: p })),
    max_concurrency: 2,
    paused: false,
    stats: { ...EMPTY_STATS },
    ...over,
  } as Agent;
}

function task(id: string, required: Array<[string, number]> = []): Task {
  return {
    id,
    required_capabilities: required.map(([name, min]) => ({ name, min_proficiency: min })),
  } as Task;
}

describe('engine placement: one best-slot rule', () => {
  const slots = (): Slot[] => [
    newSlot(agent('weak', [['nlp', 0.5]]), undefined),
    newSlot(agent('strong', [['nlp', 0.9]]), undefined),
    newSlot(agent('other', [['vision', 1]]), undefined),
  ];

  it('places a claimed task on the capable agent that fits best, and on none when nobody can take it', () => {
    const s = slots();
    assert.equal(slotFor(s, task('t', [['nlp', 0.4]]), 4, undefined)?.agent.name, 'strong');
    assert.equal(slotFor(s, task('t', [['nlp', 0.95]]), 4, undefined), undefined);
    assert.equal(slotFor(s, task('t', [['vision', 0.5]]), 4, undefined)?.agent.name, 'other');
  });

  it("follows the fit model's P(success) when it has one (load discounted), ignoring agents it did not score", () => {
    const s = slots();
    assert.equal(
      slotFor(
        s,
        task('t', [['nlp', 0.4]]),
        4,
        new Map([
          ['weak', 0.9],
          ['strong', 0.2],
        ]),
      )?.agent.name,
      'weak',
    );
  });

  it('hands off only to an idle agent with a free slot and nothing queued; paused agents take nothing', () => {
    const s = slots();
    s[1]!.deque.push(task('queued'));
    assert.equal(idleSlotFor(s, [{ name: 'nlp', min_proficiency: 0.4 }])?.agent.name, 'weak');
    s[0]!.agent = { ...s[0]!.agent, paused: true };
    assert.equal(idleSlotFor(s, [{ name: 'nlp', min_proficiency: 0.4 }]), undefined);
  });

  it('steals the last task the thief can run from the deepest other deque', () => {
    const s = slots();
    s[0]!.deque.push(task('a', [['nlp', 0.1]]), task('b', [['nlp', 0.1]]));
    s[2]!.deque.push(task('v1', [['vision', 0.1]]), task('v2', [['vision', 0.1]]), task('v3', [['vision', 0.1]]));
    const thief = s[1]!;
    const found = victimFor(s, thief);
    assert.equal(found?.victim.agent.name, 'weak', 'the deeper deque holds nothing it can run');
    assert.equal(found?.index, 1);
  });
});

describe('engine execution: how an agent runs a task', () => {
  const echo = (): string => 'echoed';
  const handlers = new Map([['echo', echo]]);

  it('a remote agent runs through its session; a session gone is a retryable AGENT_UNREACHABLE', () => {
    const sessions = new Sessions();
    const dispatch = (): string => 'remote';
    sessions.add('s1', dispatch);
    const remote = agent('r', [], { kind: 'remote', executor: null });
    assert.equal(handlerFor(remote, 's1', sessions, handlers, 'echo'), dispatch);
    sessions.delete('s1');
    const gone = handlerFor(remote, 's1', sessions, handlers, 'echo');
    assert.throws(
      () => gone({} as never, {} as never),
      (err: unknown) => err instanceof TaskFailure && err.code === 'AGENT_UNREACHABLE' && err.retryable,
    );
  });

  it('a local agent runs its executor; a missing executor is EXECUTOR_MISSING', () => {
    assert.equal(handlerFor(agent('l', []), undefined, undefined, handlers, 'echo'), echo);
    const missing = handlerFor(agent('l', [], { executor: 'gone' }), undefined, undefined, handlers, 'echo');
    assert.throws(
      () => missing({} as never, {} as never),
      (err: unknown) => err instanceof TaskFailure && err.code === 'EXECUTOR_MISSING',
    );
  });
});

describe('bulk hand-off: which tasks of a bulk this node takes', () => {
  const claimer = { queueDrained: true, reserved: 0, room: 3, offer: { nlp: 0.8 } as Record<string, number> };
  const handoff = (): HandOff =>
    new HandOff({
      slots: new Map(),
      claimer: {
        get queueDrained() {
          return claimer.queueDrained;
        },
        get reserved() {
          return claimer.reserved;
        },
        set reserved(n: number) {
          claimer.reserved = n;
        },
        capacityTarget: () => ({ buffered: claimer.reserved, target: claimer.room, offer: claimer.offer }),
      } as unknown as Claimer,
      counters: newCounters(),
      events: new EventBus(),
      log: createLogger({ level: 'fatal', nodeId: 'test' }),
      accepting: () => true,
      pump: () => undefined,
    });
  beforeEach(() => Object.assign(claimer, { queueDrained: true, reserved: 0, room: 3 }));
  const bulk: NewTask[] = [
    newTask({ title: 'low', priority: 'low' }),
    newTask({ title: 'keyed', concurrency_keys: ['llm'] }),
    newTask({ title: 'later', run_at: new Date(Date.now() + 60_000).toISOString() }),
    newTask({ title: 'vision', required_capabilities: [{ name: 'vision', min_proficiency: 0 }] }),
    newTask({ title: 'nlp', required_capabilities: [{ name: 'nlp', min_proficiency: 0.5 }] }),
    newTask({ title: 'critical', priority: 'critical' }),
    newTask({ title: 'medium' }),
  ];
  const taken = (take: boolean[]): string[] => bulk.filter((_, i) => take[i]).map((t) => t.title);

  it('takes the most urgent runnable tasks up to the room, and holds that room', () => {
    const h = handoff();
    assert.deepEqual(taken(h.reserveBulk(bulk)), ['nlp', 'critical', 'medium']);
    assert.equal(claimer.reserved, 3);
    assert.deepEqual(taken(h.reserveBulk(bulk)), [], 'the room is held until adopted or given back');
    h.unreserveBulk(3);
    assert.deepEqual(taken(h.reserveBulk(bulk)).length, 3);
  });

  it('takes nothing while older work is queued (the last claim did not drain the queue)', () => {
    claimer.queueDrained = false;
    assert.deepEqual(taken(handoff().reserveBulk(bulk)), []);
    assert.equal(claimer.reserved, 0);
  });

  it('never takes a task with a key, a future run_at or a requirement not on offer', () => {
    claimer.room = 100;
    assert.deepEqual(taken(handoff().reserveBulk(bulk)), ['low', 'nlp', 'critical', 'medium']);
  });
});
