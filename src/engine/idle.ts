/** Waiters for an agent to run nothing (drain): resolved by the engine when an agent's last attempt ends. */
export class IdleWaiters {
  private readonly waiting = new Map<string, Set<(idle: boolean) => void>>();

  /** Resolves true when `settle(id)` is called, false after timeoutMs. */
  wait(id: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      let set = this.waiting.get(id);
      if (set === undefined) this.waiting.set(id, (set = new Set()));
      const done = (idle: boolean): void => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiting.get(id) === set) this.waiting.delete(id);
        resolve(idle);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      set.add(done);
    });
  }

  /** The agent runs nothing now: every waiter for it is resolved. */
  settle(id: string): void {
    const set = this.waiting.get(id);
    if (set === undefined) return;
    for (const done of [...set]) done(true);
  }

  get size(): number {
    return this.waiting.size;
  }
}
