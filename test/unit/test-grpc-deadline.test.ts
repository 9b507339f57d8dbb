/** The gRPC unary wrapper honours the caller's deadline. */
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { remainingMs, unary } from '../../src/grpc/hive-service.js';

function fakeCall(deadline: grpc.Deadline): grpc.ServerUnaryCall<Record<string, unknown>, unknown> {
  return { request: { n: 1 }, getDeadline: () => deadline } as unknown as grpc.ServerUnaryCall<
    Record<string, unknown>,
    unknown
  >;
}

function invoke(
  handler: ReturnType<typeof unary>,
  deadline: grpc.Deadline,
): Promise<{ err: Partial<grpc.StatusObject> | null; res: unknown }> {
  return new Promise((resolve) => handler(fakeCall(deadline), (err, res) => resolve({ err: err, res })));
}

describe('gRPC deadlines', () => {
  it('reads the time left from a Date or a number, and Infinity without a deadline', () => {
    assert.equal(remainingMs(fakeCall(Infinity)), Infinity);
    const left = remainingMs(fakeCall(new Date(Date.now() + 5000)));
    assert.ok(left > 4000 && left <= 5000, String(left));
    assert.ok(remainingMs(fakeCall(Date.now() - 10)) < 0);
  });

  it('refuses a call that arrives past its deadline with DEADLINE_EXCEEDED, before doing any work', async () => {
    let ran = 0;
    const h = unary(() => {
      ran++;
      return Promise.resolve('done');
    });
    const { err } = await invoke(h, new Date(Date.now() - 1));
    assert.equal(ran, 0);
    assert.equal(err?.code, grpc.status.DEADLINE_EXCEEDED);
    assert.deepEqual(err?.metadata?.get('hive-error-code'), ['DEADLINE_EXCEEDED']);
  });

  it('bounds the work by what is left of the deadline, and leaves it unbounded without one', async () => {
    const seen: Array<number | undefined> = [];
    const h = unary((_req, timeoutMs) => {
      seen.push(timeoutMs);
      return Promise.resolve('ok');
    });
    const bounded = await invoke(h, new Date(Date.now() + 2000));
    assert.equal(bounded.res, 'ok');
    await invoke(h, Infinity);
    assert.ok(seen[0] !== undefined && seen[0] > 1000 && seen[0] <= 2000, String(seen[0]));
    assert.equal(seen[1], undefined);
  });
});
