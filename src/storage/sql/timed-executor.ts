import { SampleWindow } from '../../metrics/windows.js';
import { errorMessage, isOutage } from '../../errors/index.js';
import type { Executor, Row } from './executor.js';

const READ = /^\s*SELECT\b/i;

/** Query latency as measured at the driver: last samples, and totals since start. */
export interface QueryStats {
  queries: number;
  errors: number;
  mean_ms: number;
  p50_ms: number;
  p99_ms: number;
}

/** Wraps an executor and times every statement (inside transactions too). */
export class TimedExecutor implements Executor {
  constructor(
    private readonly inner: Executor,
    private readonly stats: QueryTimer,
  ) {}

  all(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    return this.stats.time(() => this.inner.all(sql, params), !READ.test(sql));
  }

  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.stats.time(() => this.inner.run(sql, params), true);
  }

  exec(sql: string): Promise<void> {
    return this.stats.time(() => this.inner.exec(sql), true);
  }

  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return this.stats.watchWrites(() => this.inner.transaction((tx) => fn(new TimedExecutor(tx, this.stats))));
  }
}

export class QueryTimer {
  private readonly window = new SampleWindow(2048);
  private queries = 0;
  private errors = 0;

  /** Set while writes fail for an outage (disk full, read-only file, database away); cleared by the next write that succeeds. */
  private writesFailing: { since: string; error: string } | undefined;

  /** Why writes fail now, if they do (health reports it). */
  writeFailure(): { since: string; error: string } | undefined {
    return this.writesFailing;
  }

  async watchWrites<T>(work: () => Promise<T>): Promise<T> {
    try {
      const v = await work();
      this.wrote();
      return v;
    } catch (err) {
      this.writeFailed(err);
      throw err;
    }
  }

  private wrote(): void {
    this.writesFailing = undefined;
  }

  private writeFailed(err: unknown): void {
    if (isOutage(err)) this.writesFailing ??= { since: new Date().toISOString(), error: errorMessage(err) };
  }

  async time<T>(work: () => Promise<T>, write = false): Promise<T> {
    const start = performance.now();
    try {
      const v = await work();
      if (write) this.wrote();
      return v;
    } catch (err) {
      this.errors++;
      if (write) this.writeFailed(err);
      throw err;
    } finally {
      this.queries++;
      this.window.record(performance.now() - start);
    }
  }

  read(): QueryStats {
    const r = (n: number): number => Math.round(n * 1000) / 1000;
    return {
      queries: this.queries,
      errors: this.errors,
      mean_ms: r(this.window.mean()),
      p50_ms: r(this.window.percentile(50)),
      p99_ms: r(this.window.percentile(99)),
    };
  }
}
