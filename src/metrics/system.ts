import os from 'node:os';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { round2 } from './windows.js';

const RESOLUTION_MS = 10;

export interface SystemSample {
  cpu_percent: number;
  memory: {
    rss_mb: number;
    heap_used_mb: number;
    heap_total_mb: number;
    percent: number;
    limit_mb: number;
    system_total_mb: number;
    system_free_mb: number;
  };
  load_average: number[];
  event_loop_lag_ms: number;
  event_loop_lag_p99_ms: number;
  cpu_cores: number;
}

/**
 * Measures the process every interval: CPU use (process.cpuUsage over wall time,
 * as a percent of the cores counted), memory against [performance]
 * memory_limit_mb, and event-loop lag (mean and p99 of the interval).
 */
export class SystemSampler {
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private lastCpu = process.cpuUsage();
  private lastAt = performance.now();
  private cpuPercent = 0;
  private lagMean = 0;
  private lagP99 = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly memoryLimitMb: number,
    private readonly cores: number,
    intervalMs = 1000,
  ) {
    this.loop.enable();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    const now = performance.now();
    const cpu = process.cpuUsage(this.lastCpu);
    const wallUs = (now - this.lastAt) * 1000;
    this.cpuPercent = wallUs > 0 ? ((cpu.user + cpu.system) / wallUs / this.cores) * 100 : 0;
    this.lastCpu = process.cpuUsage();
    this.lastAt = now;
    // The histogram's samples include the sampling interval itself: lag is what exceeds it.
    this.lagMean = this.loop.count > 0 ? Math.max(0, this.loop.mean / 1e6 - RESOLUTION_MS) : 0;
    this.lagP99 = this.loop.count > 0 ? Math.max(0, this.loop.percentile(99) / 1e6 - RESOLUTION_MS) : 0;
    this.loop.reset();
  }

  read(): SystemSample {
    const mem = process.memoryUsage();
    const rssMb = mem.rss / 1_048_576;
    return {
      cpu_percent: round2(this.cpuPercent),
      memory: {
        rss_mb: round2(rssMb),
        heap_used_mb: round2(mem.heapUsed / 1_048_576),
        heap_total_mb: round2(mem.heapTotal / 1_048_576),
        percent: round2((rssMb / this.memoryLimitMb) * 100),
        limit_mb: this.memoryLimitMb,
        system_total_mb: Math.round(os.totalmem() / 1_048_576),
        system_free_mb: Math.round(os.freemem() / 1_048_576),
      },
      load_average: os.loadavg().map(round2),
      event_loop_lag_ms: round2(this.lagMean),
      event_loop_lag_p99_ms: round2(this.lagP99),
      cpu_cores: this.cores,
    };
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.loop.disable();
  }
}
