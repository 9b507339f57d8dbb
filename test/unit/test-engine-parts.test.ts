/** The engine's parts on their own: the one best-slot rule (claim placement, hand-off, stealing) and how an agent runs a task. */
import assert from 'node:assert/strict';
import { EMPTY_STATS, type Agent, type Task } from '../../src/domain/index.js';
import { idleSlotFor, newSlot, slotFor, victimFor, type Slot } from '../../src/engine/placement.js';
import { handlerFor } from '../../src/engine/execution.js';
import { Sessions } from '../../src/engine/sessions.js';
import { TaskFailure } from '../../src/engine/handler.js';

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
