import { SampleWindow } from '../../metrics/windows.js';
import type { Executor, Row } from './executor.js';

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
    return this.stats.time(() => this.inner.all(sql, params));
  }

  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.stats.time(() => this.inner.run(sql, params));
  }

  exec(sql: string): Promise<void> {
    return this.stats.time(() => this.inner.exec(sql));
  }

  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return this.inner.transaction((tx) => fn(new TimedExecutor(tx, this.stats)));
  }
}

export class QueryTimer {
  private readonly window = new SampleWindow(2048);
  private queries = 0;
  private errors = 0;

  async time<T>(work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } catch (err) {
      this.errors++;
      throw err;
    } finally {
      this.queries++;
      this.window.record(performance.now() - start);
    }
  }

  read(): QueryStats {
    const r = (n: number): number => Math.round(n * 1000) / 1000;
    return { queries: this.queries, errors: this.errors, mean_ms: r(this.window.mean()), p50_ms: r(this.window.percentile(50)), p99_ms: r(this.window.percentile(99)) };
  }
}
