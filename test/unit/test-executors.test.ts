import assert from 'node:assert/strict';
import path from 'node:path';
import { RunControl, execute } from '../../src/engine/execute.js';
import { BUILTIN_HANDLERS, loadHandlers } from '../../actors/agent/executors.js';
import { TaskFailure, type ExecutorTask, type Handler } from '../../src/engine/handler.js';
import { memoryLogger } from '../helpers/logs.js';
import { ROOT } from '../helpers/cli.js';

const task = (payload: unknown, timeout_ms = 5000): ExecutorTask => ({
  id: 't1',
  title: 't',
  description: '',
  type: 'general',
  priority: 'medium',
  payload,
  attempt: 1,
  timeout_ms,
  parent_id: null,
  checkpoint: null,
  resume: null,
});
const ctx = {
  agent: { id: 'a1', name: 'agent-1' },
  log: memoryLogger().log,
  units: ['tokens'],
  progress: () => undefined,
  spawn: () => Promise.resolve([]),
};
const run = (h: Handler, payload: unknown, timeoutMs?: number, control = new RunControl()) =>
  execute(h, task(payload, timeoutMs), ctx, control);

describe('executors', () => {
  it('a handler ends its attempt by waiting: sleep, a time, a signal, an approval, its children', async () => {
    const wait = async (h: Handler) => {
      const o = await run(h, null);
      assert.equal(o.kind, 'wait');
      return o.kind === 'wait' ? o.wait : undefined;
    };
    const slept = await wait((_t, c) => c.sleep(2000, { checkpoint: { step: 2 } }));
    assert.deepEqual(slept?.wait_for, { kind: 'timer' });
    assert.deepEqual(slept?.checkpoint, { step: 2 });
    assert.ok(Math.abs(Date.parse(slept.wake_at!) - Date.now() - 2000) < 200);
    const at = new Date(Date.now() + 60_000);
    assert.equal((await wait((_t, c) => c.continueAt(at)))?.wake_at, at.toISOString());
    assert.deepEqual((await wait((_t, c) => c.waitForSignal('go', { timeoutMs: 500 })))?.wait_for, {
      kind: 'signal',
      signal: 'go',
      timeout_ms: 500,
    });
    assert.equal(
      ((await wait((_t, c) => c.waitForApproval())) as { wait_for: { signal: string } }).wait_for.signal,
      'approval',
    );
    assert.deepEqual((await wait((_t, c) => c.waitForChildren('any', { onChildFailure: 'ignore' })))?.wait_for, {
      kind: 'children',
      children: 'any',
      on_child_failure: 'ignore',
      child_retries: 1,
      timeout_ms: null,
    });
    const bad = await run((_t, c) => c.waitForSignal('bad name!'), null);
    assert.equal(bad.kind === 'failed' && bad.error.code, 'VALIDATION_FAILED');
  });

  it('a handler reports usage through its context; a bad report throws and records nothing', async () => {
    const control = new RunControl();
    const outcome = await run(
      (_t, c) => {
        c.reportUsage({ tokens: 10 });
        assert.throws(() => c.reportUsage({ dollars: 1 }), /usage\.dollars: unknown unit/);
        assert.throws(() => c.reportUsage({ tokens: -1 }), /usage\.tokens/);
        c.reportUsage({ tokens: 12 });
        return 'ok';
      },
      null,
      undefined,
      control,
    );
    assert.equal(outcome.kind, 'completed');
    assert.deepEqual(control.usage, { tokens: 12 });
  });

  it('echo returns the payload', async () => {
    assert.deepEqual(await run(BUILTIN_HANDLERS['echo']!, { a: [1, 2] }), {
      kind: 'completed',
      result: { a: [1, 2] },
      json: '{"a":[1,2]}',
    });
  });

  it('sleep waits payload.ms and refuses a bad payload as a permanent failure', async () => {
    assert.deepEqual(await run(BUILTIN_HANDLERS['sleep']!, { ms: 5 }), {
      kind: 'completed',
      result: { slept_ms: 5 },
      json: '{"slept_ms":5}',
    });
    const bad = await run(BUILTIN_HANDLERS['sleep']!, { ms: 'long' });
    assert.equal(bad.kind, 'failed');
    assert.deepEqual(bad.kind === 'failed' && [bad.error.code, bad.error.retryable], ['INVALID_PAYLOAD', false]);
  });

  it('fail fails with the payload message and retryability', async () => {
    assert.deepEqual(await run(BUILTIN_HANDLERS['fail']!, { message: 'boom', retryable: true }), {
      kind: 'failed',
      error: { code: 'TASK_FAILED', message: 'boom', retryable: true },
    });
    assert.deepEqual(await run(BUILTIN_HANDLERS['fail']!, null), {
      kind: 'failed',
      error: { code: 'TASK_FAILED', message: 'failed on purpose (fail executor)', retryable: false },
    });
  });

  it('aborts a handler at its timeout, even one that ignores its signal', async () => {
    const stubborn: Handler = () => new Promise(() => undefined);
    const outcome = await run(stubborn, null, 30);
    assert.deepEqual(outcome.kind === 'failed' && [outcome.error.code, outcome.error.retryable], [
      'TASK_TIMEOUT',
      true,
    ]);
  });

  it('reports cancellation with its reason', async () => {
    const control = new RunControl();
    const running = run(BUILTIN_HANDLERS['sleep']!, { ms: 60_000 }, 120_000, control);
    control.abort(new Error('operator said stop'));
    assert.deepEqual(await running, { kind: 'cancelled', reason: 'operator said stop' });
  });

  it('refuses results that are not JSON and maps thrown errors', async () => {
    const cyclic: Handler = () => {
      const o: Record<string, unknown> = {};
      o['self'] = o;
      return o;
    };
    const r = await run(cyclic, null);
    assert.deepEqual(r.kind === 'failed' && r.error.code, 'RESULT_NOT_JSON');
    const custom: Handler = () => {
      throw new TaskFailure('quota exceeded', true, 'QUOTA');
    };
    assert.deepEqual(await run(custom, null), {
      kind: 'failed',
      error: { code: 'QUOTA', message: 'quota exceeded', retryable: true },
    });
    const plain: Handler = () => {
      throw new Error('plain');
    };
    assert.deepEqual(await run(plain, null), {
      kind: 'failed',
      error: { code: 'TASK_FAILED', message: 'plain', retryable: false },
    });
  });

  it('honours retryable and code on errors thrown by user handlers', async () => {
    const handlers = await loadHandlers({ upper: { module: 'test/fixtures/handlers/upper.mjs' } }, ROOT);
    const upper = handlers.get('upper')!;
    assert.deepEqual(await run(upper, { text: 'hi' }), {
      kind: 'completed',
      result: { text: 'HI', agent: 'agent-1', attempt: 1 },
      json: '{"text":"HI","agent":"agent-1","attempt":1}',
    });
    assert.deepEqual(await run(upper, {}), {
      kind: 'failed',
      error: { code: 'TASK_FAILED', message: 'payload.text is required', retryable: true },
    });
  });

  it('loads user handler modules and refuses bad ones with the executor named', async () => {
    await assert.rejects(
      loadHandlers({ nope: { module: 'test/fixtures/handlers/missing.mjs' } }, ROOT),
      /\[agents\.executors\.nope\] module .*missing\.mjs could not be loaded/,
    );
    await assert.rejects(
      loadHandlers({ bad: { module: 'test/fixtures/handlers/no-handler.mjs' } }, ROOT),
      /\[agents\.executors\.bad\] module .* does not export a function named handler/,
    );
    await assert.rejects(
      loadHandlers({ echo: { module: path.join(ROOT, 'test/fixtures/handlers/upper.mjs') } }, ROOT),
      /"echo" is a built-in executor/,
    );
  });
});
