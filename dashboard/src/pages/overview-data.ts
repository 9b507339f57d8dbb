/** The overview's numbers: the last hour of samples (GET /metrics/history), extended by each live metrics.update. */
export interface Sample {
  t: number;
  submitted: number;
  completed: number;
  failed: number;
  queue_depth: number;
  event_loop_lag_ms: number;
  rss_mb: number;
  heap_used_mb: number;
}

export interface RawSample {
  timestamp: string;
  submitted?: number;
  completed?: number;
  failed?: number;
  queue_depth: number;
  event_loop_lag_ms: number;
  rss_mb: number;
  heap_used_mb?: number;
}

const HOUR_S = 3600;

export function fromRaw(r: RawSample): Sample {
  return {
    t: Date.parse(r.timestamp) / 1000,
    submitted: r.submitted ?? 0,
    completed: r.completed ?? 0,
    failed: r.failed ?? 0,
    queue_depth: r.queue_depth,
    event_loop_lag_ms: r.event_loop_lag_ms,
    rss_mb: r.rss_mb,
    heap_used_mb: r.heap_used_mb ?? 0,
  };
}

/** A sample from the current_metrics of /metrics or of a metrics.update event. */
export function fromCurrent(m: CurrentMetrics, at: number): Sample {
  const tm = m.task_management;
  return {
    t: at / 1000,
    submitted: tm.totals.submitted,
    completed: tm.totals.completed,
    failed: tm.totals.failed + tm.totals.dead,
    queue_depth: tm.queue_depth,
    event_loop_lag_ms: m.system.event_loop_lag_ms,
    rss_mb: m.system.memory.rss_mb,
    heap_used_mb: m.system.memory.heap_used_mb,
  };
}

/** Appends a sample and keeps the last hour. */
export function appendSample(list: readonly Sample[], s: Sample): Sample[] {
  const out = [...list, s];
  while (out.length > 0 && out[0]!.t < s.t - HOUR_S) out.shift();
  return out;
}

/** Per-second rates between consecutive samples (null at the first, or where a total went down: another database). */
export function rates(list: readonly Sample[], key: 'submitted' | 'completed' | 'failed'): Array<number | null> {
  return list.map((s, i) => {
    const prev = list[i - 1];
    if (prev === undefined || s.t <= prev.t || s[key] < prev[key]) return null;
    return Math.round(((s[key] - prev[key]) / (s.t - prev.t)) * 100) / 100;
  });
}

export interface CurrentMetrics {
  system: {
    event_loop_lag_ms: number;
    event_loop_lag_p99_ms: number;
    cpu_percent: number;
    memory: { rss_mb: number; heap_used_mb: number };
  };
  task_management: {
    by_status: Record<string, number>;
    queue_depth: number;
    totals: { submitted: number; completed: number; failed: number; dead: number; cancelled: number };
    tasks_per_second: number;
    average_task_ms: number;
    p50_task_ms?: number;
    p99_task_ms: number;
    success_rate: number;
  };
  agent_management: { total: number; capacity: number; running_tasks: number; utilization_percent: number };
  websocket: { connections: number };
}
