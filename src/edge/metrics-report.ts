/**
 * GET /metrics: the JSON the troubleshooting guide reads
 * (data.current_metrics.{system, agent_management, task_management, database,
 * websocket, neural, cluster}, trends, collection_timestamp). Every number is
 * measured: process counters, module summaries, driver timings, socket counts.
 */
import type { HubMetrics } from '../metrics/registry.js';
import type { HubConfig } from '../config/index.js';
import type { SystemSampler, SystemSample } from '../metrics/system.js';
import type { Store } from '../storage/index.js';
import type { Hive } from '../../actors/hive/hive.js';
import type { AgentSummary } from '../../actors/agent-management/messages.js';
import type { TaskSummary } from '../../actors/task-distributor/messages.js';
import type { WsStats } from './ws.js';
import { FlowMetrics, topKeys } from './flow-metrics.js';

export interface TrendSample {
  timestamp: string;
  cpu_percent: number;
  rss_mb: number;
  event_loop_lag_ms: number;
  queue_depth: number;
  tasks_per_second: number;
  running_tasks: number;
  ws_connections: number;
  /** Totals from the database (cluster-wide) when sampled: a rate is the difference of two samples. */
  submitted: number;
  completed: number;
  failed: number;
  p50_task_ms: number;
  p99_task_ms: number;
  average_task_ms: number;
  heap_used_mb: number;
}

export interface MetricsDeps {
  config: HubConfig;
  hive: Hive;
  store: Store;
  sampler: SystemSampler;
  ws: () => WsStats;
  /** Membership and transport figures, in cluster mode. */
  cluster?: (() => Record<string, unknown>) | undefined;
  /** Cluster members and their status, in cluster mode. */
  members?: (() => ReadonlyArray<{ status: string }>) | undefined;
}

const MODULE_STATES = ['starting', 'running', 'restarting', 'failed', 'stopped'] as const;
const MEMBER_STATES = ['joining', 'active', 'suspect', 'dead', 'left'] as const;

const TREND_INTERVAL_MS = 10_000;
/** data.trends shows the last 10 minutes; GET /metrics/history the last hour. */
const TREND_SAMPLES = 60;
const HISTORY_SAMPLES = 360;

export class MetricsReporter {
  private readonly samples: TrendSample[] = [];
  private readonly flow = new FlowMetrics();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly d: MetricsDeps) {
    this.timer = setInterval(() => void this.sampleTrend().catch(() => undefined), TREND_INTERVAL_MS);
    this.timer.unref();
    // A first sample soon after start, so a chart has a point before the first interval.
    setTimeout(() => void this.sampleTrend().catch(() => undefined), 1000).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private summaries(): Promise<[AgentSummary, TaskSummary]> {
    const { hive } = this.d;
    return Promise.all([
      hive.to(hive.modules.agent_management)('agent.summarize', {}),
      hive.to(hive.modules.task_management)('task.summarize', {}),
    ]);
  }

  private async sampleTrend(): Promise<void> {
    const [agents, tasks] = await this.summaries();
    const sys = this.d.sampler.read();
    this.samples.push(trendOf(sys, agents, tasks, this.d.ws()));
    if (this.samples.length > HISTORY_SAMPLES) this.samples.shift();
  }

  /** The process figures of the sampler's last interval (CPU, memory, event-loop lag). */
  system(): SystemSample {
    return this.d.sampler.read();
  }

  /** GET /metrics/history: this node's samples of the last hour, oldest first. */
  history(): { interval_seconds: number; samples: readonly TrendSample[] } {
    return { interval_seconds: TREND_INTERVAL_MS / 1000, samples: this.samples };
  }

  /** Sets the scrape-time gauges of /metrics/prometheus from the same readings /metrics reports. */
  async publish(m: HubMetrics): Promise<void> {
    // A module that cannot answer must not fail the scrape: its state is what the alert needs.
    const tasks = await this.summaries().then(
      ([, t]) => t,
      () => undefined,
    );
    const sys = this.d.sampler.read();
    m.cpuPercent.set(sys.cpu_percent);
    m.memoryPercent.set(sys.memory.percent);
    if (tasks !== undefined) {
      for (const [status, n] of Object.entries(tasks.by_status)) m.tasks.set({ status }, n);
      m.queueDepth.set(tasks.queue_depth);
      m.queueMax.set(tasks.max_pending);
    }
    for (const mod of this.d.hive.status())
      for (const state of MODULE_STATES) m.moduleState.set({ module: mod.name, state }, mod.status === state ? 1 : 0);
    const members = this.d.members?.() ?? [];
    for (const status of MEMBER_STATES)
      m.clusterMembers.set({ status }, members.filter((x) => x.status === status).length);
    m.databaseUp.set((await this.d.store.ping().catch(() => -1)) >= 0 ? 1 : 0);
    const keys = await this.d.store.listFlowKeys().catch(() => undefined);
    if (keys !== undefined) this.flow.publish(m, keys, tasks?.runner.flow);
    const wf = await this.workflows().catch(() => undefined);
    if (wf === undefined) return;
    for (const [reason, n] of Object.entries(wf.waiting)) m.tasksWaiting.set({ reason }, n);
    m.scheduleTicks.reset();
    for (const s of wf.schedules) {
      m.scheduleTicks.set({ schedule: s.name, outcome: 'fired' }, s.fired);
      m.scheduleTicks.set({ schedule: s.name, outcome: 'skipped' }, s.skipped);
    }
  }

  private async workflowsReport(tasks: TaskSummary): Promise<Record<string, unknown>> {
    const wf = await this.workflows().catch(() => ({ waiting: {}, schedules: [] }));
    return { ...wf, node: tasks.runner.workflows ?? null };
  }

  /** Workflows, cluster-wide from storage: waiting tasks by reason, and the schedules (at most 100 listed). */
  private async workflows(): Promise<{
    waiting: Record<string, number>;
    schedules: Array<{ name: string; paused: boolean; next_run_at: string | null; fired: number; skipped: number }>;
  }> {
    const [waiting, schedules] = await Promise.all([this.d.store.countWaiting(), this.d.store.listSchedules()]);
    return {
      waiting,
      schedules: schedules.slice(0, 100).map((s) => ({
        name: s.name,
        paused: s.paused,
        next_run_at: s.next_run_at,
        fired: s.fired,
        skipped: s.skipped,
      })),
    };
  }

  async report(): Promise<Record<string, unknown>> {
    const [agents, tasks] = await this.summaries();
    const system = this.d.sampler.read();
    const ws = this.d.ws();
    const latency = await this.d.store.ping().catch(() => -1);
    const neural = await this.d.hive
      .to(this.d.hive.modules.neural)('neural.status', {}, 1000)
      .then((s) => ({ available: s['enabled'] === true, ...s }))
      .catch((err: unknown) => ({
        enabled: this.d.config.neural.enabled,
        available: false,
        reason: err instanceof Error ? err.message : String(err),
      }));
    const now = trendOf(system, agents, tasks, ws);
    const trend = this.samples.slice(-TREND_SAMPLES);
    const first = trend[0];
    return {
      current_metrics: {
        system,
        agent_management: agents,
        task_management: tasks,
        database: {
          engine: this.d.store.engine,
          pool: this.d.store.poolStats(),
          ping_ms: Math.round(latency * 1000) / 1000,
          reachable: latency >= 0,
          queries: this.d.store.queryStats(),
        },
        websocket: ws,
        neural,
        cluster: this.d.cluster?.() ?? { enabled: false, nodes: 1 },
        flow: {
          keys: topKeys(await this.d.store.listFlowKeys().catch(() => [])),
          ...(tasks.runner.flow ?? { throttled_seconds: {}, used: {} }),
        },
        workflows: await this.workflowsReport(tasks),
        modules: Object.fromEntries(
          this.d.hive
            .status()
            .map((m) => [m.name, { status: m.status, restarts: m.restarts, mailbox_depth: m.mailbox_depth }]),
        ),
      },
      trends: {
        interval_seconds: TREND_INTERVAL_MS / 1000,
        samples: trend,
        change_since_first_sample:
          first === undefined
            ? null
            : {
                seconds: Math.round((Date.parse(now.timestamp) - Date.parse(first.timestamp)) / 1000),
                cpu_percent: round(now.cpu_percent - first.cpu_percent),
                rss_mb: round(now.rss_mb - first.rss_mb),
                queue_depth: now.queue_depth - first.queue_depth,
                tasks_per_second: round(now.tasks_per_second - first.tasks_per_second),
              },
      },
      collection_timestamp: now.timestamp,
    };
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function trendOf(sys: SystemSample, agents: AgentSummary, tasks: TaskSummary, ws: WsStats): TrendSample {
  return {
    timestamp: new Date().toISOString(),
    cpu_percent: sys.cpu_percent,
    rss_mb: sys.memory.rss_mb,
    event_loop_lag_ms: sys.event_loop_lag_ms,
    queue_depth: tasks.queue_depth,
    tasks_per_second: tasks.tasks_per_second,
    running_tasks: agents.running_tasks,
    ws_connections: ws.connections,
    submitted: tasks.totals.submitted,
    completed: tasks.totals.completed,
    failed: tasks.totals.failed + tasks.totals.dead,
    p50_task_ms: tasks.p50_task_ms,
    p99_task_ms: tasks.p99_task_ms,
    average_task_ms: tasks.average_task_ms,
    heap_used_mb: sys.memory.heap_used_mb,
  };
}
