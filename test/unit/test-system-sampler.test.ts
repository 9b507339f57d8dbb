/** The system sampler's event-loop lag: the histogram while the loop works, the sampler's own timer while it idles. */
import assert from 'node:assert/strict';
import { SystemSampler } from '../../src/metrics/system.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the loop is blocked, as a long synchronous handler would block it
  }
}

describe('system sampler', function () {
  this.timeout(10_000);
  let sampler: SystemSampler;
  afterEach(() => sampler?.stop());

  it('switches the lag histogram off while the loop idles, and still sees a block', async () => {
    sampler = new SystemSampler(1024, 1, 100);
    await sleep(450);
    assert.equal(sampler.histogramOn, false, 'idle: no 10 ms timer');
    block(250);
    await sleep(10); // the overdue sample runs as soon as the loop is free
    const lag = sampler.read().event_loop_lag_ms;
    assert.ok(lag >= 150, `a 250 ms block shows as lag while idle, got ${lag} ms`);
  });

  it('switches it on when the loop works, and measures lag with it', async () => {
    sampler = new SystemSampler(1024, 1, 100);
    await sleep(250);
    const busyUntil = performance.now() + 800;
    while (performance.now() < busyUntil) {
      block(15);
      await sleep(5);
    }
    assert.equal(sampler.histogramOn, true, 'busy: the histogram measures');
    const s = sampler.read();
    assert.ok(s.event_loop_lag_p99_ms >= 5, `15 ms blocks show in the p99, got ${s.event_loop_lag_p99_ms} ms`);
    await sleep(450);
    assert.equal(sampler.histogramOn, false, 'idle again: off');
  });
});
