import os from 'node:os';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { round2 } from './windows.js';

const RESOLUTION_MS = 10;
/**
 * Below this event-loop utilization an interval counts as idle: the lag histogram
 * (a timer every RESOLUTION_MS, about 0.2 % of a core on its own) is switched off
 * and lag is read from the sampler's own timer, which fires late by what the loop
 * was blocked. It is switched on again once the loop is busier.
 */
const IDLE_UTILIZATION = 0.02;

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
 * memory_limit_mb, and event-loop lag (mean and p99 of the interval; while the
 * loop is idle, from the sampler's own timer instead of the histogram).
 */
export class SystemSampler {
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private lastCpu = process.cpuUsage();
  private lastAt = performance.now();
  private lastElu = performance.eventLoopUtilization();
  private histogram = true;
  private cpuPercent = 0;
  private lagMean = 0;
  private lagP99 = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly memoryLimitMb: number,
    private readonly cores: number,
    private readonly intervalMs = 1000,
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
    const late = Math.max(0, wallUs / 1000 - this.intervalMs);
    // The histogram's samples include the sampling interval itself: lag is what exceeds it.
    const measured = this.histogram && this.loop.count > 0;
    this.lagMean = measured ? Math.max(0, this.loop.mean / 1e6 - RESOLUTION_MS) : late;
    this.lagP99 = measured ? Math.max(0, this.loop.percentile(99) / 1e6 - RESOLUTION_MS) : late;
    this.loop.reset();
    this.followLoad();
  }

  /** Whether lag comes from the histogram now (false: the loop idles; from the sampler's timer). */
  get histogramOn(): boolean {
    return this.histogram;
  }

  /** Switches the lag histogram off while the loop idles and on when it works. */
  private followLoad(): void {
    const elu = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(elu, this.lastElu).utilization >= IDLE_UTILIZATION;
    this.lastElu = elu;
    if (busy === this.histogram) return;
    this.histogram = busy;
    if (busy) this.loop.enable();
    else this.loop.disable();
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
