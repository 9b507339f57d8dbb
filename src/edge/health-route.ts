import type { HubConfig } from '../config/index.js';
import type { Hive, ModuleName } from '../../actors/hive/hive.js';
import { MODULE_NAMES } from '../../actors/hive/messages.js';
import { moduleHealth, thresholdHealth, worst, type HealthCheck, type HealthStatus } from '../../actors/hive/health.js';
import { errorMessage } from '../errors/index.js';
import type { Store } from '../storage/index.js';
import { ok } from './envelope.js';
import type { EdgeRequest, EdgeResponse } from './router.js';
import { parseQuery } from './query.js';
import type { SystemSample } from '../metrics/system.js';

export interface HealthDeps {
  config: HubConfig;
  hive: Hive;
  store: Store;
  nodeId: string;
  version: string;
  startedAt: Date;
  /** The process figures /metrics reports (event-loop lag from the one sampler). */
  reporter: { system(): SystemSample };
}

const PING_DEADLINE_MS = 1000;

async function databaseCheck(store: Store): Promise<HealthCheck> {
  try {
    const latency = await store.ping();
    // Reads answer but writes fail (disk full, read-only file): degraded, with why; a restart would not help.
    const writes = store.writeFailure();
    if (writes !== undefined)
      return {
        status: 'degraded',
        engine: store.engine,
        latency_ms: round(latency),
        writes_failing_since: writes.since,
        error: writes.error,
      };
    return { status: latency > 1000 ? 'degraded' : 'healthy', engine: store.engine, latency_ms: round(latency) };
  } catch (err) {
    return { status: 'unhealthy', engine: store.engine, error: errorMessage(err) };
  }
}

async function pingCheck(hive: Hive, name: ModuleName): Promise<HealthCheck> {
  const start = performance.now();
  try {
    await hive.ping(name, PING_DEADLINE_MS);
    return { status: 'healthy', latency_ms: round(performance.now() - start) };
  } catch (err) {
    return { status: 'unhealthy', error: errorMessage(err), deadline_ms: PING_DEADLINE_MS };
  }
}

function memoryCheck(config: HubConfig): HealthCheck {
  const rssMb = process.memoryUsage.rss() / 1_048_576;
  const percent = (rssMb / config.performance.memory_limit_mb) * 100;
  return {
    status: thresholdHealth(percent, config.performance.memory_warning_threshold),
    rss_mb: round(rssMb),
    limit_mb: config.performance.memory_limit_mb,
    percent: round(percent),
  };
}

/** The event loop's lag p99 over the sampler's last second. */
function eventLoopCheck(d: HealthDeps): HealthCheck {
  const p99 = d.reporter.system().event_loop_lag_p99_ms;
  return { status: p99 > 1000 ? 'degraded' : 'healthy', lag_p99_ms: round(p99) };
}

/** Pending tasks against [tasks] max_pending: degraded above 90 %, unhealthy when full. */
async function queueCheck(d: HealthDeps, mailboxDepth: number): Promise<HealthCheck> {
  try {
    const t = await d.hive.to(d.hive.modules.task_management)('task.queue', {}, PING_DEADLINE_MS);
    const percent = (t.pending / t.max_pending) * 100;
    return {
      status: thresholdHealth(percent, 90),
      pending: t.pending,
      max_pending: t.max_pending,
      running: t.in_flight,
      mailbox_depth: mailboxDepth,
    };
  } catch (err) {
    return { status: 'unhealthy', error: errorMessage(err), mailbox_depth: mailboxDepth };
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

async function detailedChecks(d: HealthDeps): Promise<Record<string, HealthCheck>> {
  const [database, ...pings] = await Promise.all([
    databaseCheck(d.store),
    ...MODULE_NAMES.map((n) => pingCheck(d.hive, n)),
  ]);
  const taskModule = d.hive.status().find((m) => m.name === 'task_management');
  const queue = await queueCheck(d, taskModule?.mailbox_depth ?? 0);
  return {
    database,
    memory: memoryCheck(d.config),
    event_loop: eventLoopCheck(d),
    ...Object.fromEntries(MODULE_NAMES.map((n, i) => [`module_${n}`, pings[i] as HealthCheck])),
    queue,
  };
}

/** GET /health: 200 when healthy or degraded, 503 when unhealthy; ?detailed=true adds every check. */
export function healthRoute(d: HealthDeps): (req: EdgeRequest) => Promise<EdgeResponse> {
  return async (req) => {
    const modules = d.hive.status();
    const detailed = parseQuery(req.query, { detailed: { kind: 'bool' } }).detailed === true;
    const checks = detailed ? await detailedChecks(d) : { database: await databaseCheck(d.store) };
    const statuses: HealthStatus[] = [...modules.map(moduleHealth), ...Object.values(checks).map((c) => c.status)];
    const status = worst(statuses);
    const data: Record<string, unknown> = {
      status,
      version: d.version,
      uptime_seconds: Math.round((Date.now() - d.startedAt.getTime()) / 1000),
      node_id: d.nodeId,
      modules: Object.fromEntries(
        modules.map((m) => [
          m.name,
          { status: m.status, restarts: m.restarts, ...(m.last_error ? { last_error: m.last_error } : {}) },
        ]),
      ),
    };
    if (detailed) data['checks'] = checks;
    return { status: status === 'unhealthy' ? 503 : 200, body: ok(data) };
  };
}
