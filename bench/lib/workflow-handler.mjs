// The executor of bench/workflows.ts. payload.mode:
//   sleep   first attempt sleeps payload.ms (its target time in the checkpoint); the next returns how late it woke
//   signal  first attempt waits for the signal "go"; the next returns when it resumed (Date.now())
export async function handler(task, ctx) {
  const p = task.payload ?? {};
  if (p.mode === 'sleep') {
    if (task.resume === null) return ctx.sleep(p.ms, { checkpoint: { target: Date.now() + p.ms } });
    return { late_ms: Date.now() - task.checkpoint.target };
  }
  if (p.mode === 'signal') {
    if (task.resume === null) return ctx.waitForSignal('go');
    return { resumed_at: Date.now() };
  }
  return null;
}
