import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The hub's prom-client registry and the hive_* metrics shared by modules.
 * Each hub instance owns one (tests start several hubs in one process).
 */
export class HubMetrics {
  readonly registry = new Registry();
  readonly actorCrashes: Counter<'actor'>;
  readonly actorRestarts: Counter<'actor' | 'reason'>;
  readonly actorEscalations: Counter<'actor'>;
  readonly deadLetters: Counter<'actor' | 'reason'>;
  readonly mailboxRejections: Counter<'actor'>;
  readonly unhandledErrors: Counter<'kind'>;
  readonly swallowedErrors: Counter<'module'>;
  readonly mailboxDepth: Gauge<'actor'>;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly taskEvents: Counter<'type'>;
  readonly agentEvents: Counter<'type'>;
  /** Set at each scrape from the hub's own readings (MetricsReporter.publish): what deploy/prometheus/alerts.yml watches. */
  readonly cpuPercent: Gauge;
  readonly memoryPercent: Gauge;
  readonly tasks: Gauge<'status'>;
  readonly queueDepth: Gauge;
  readonly queueMax: Gauge;
  readonly moduleState: Gauge<'module' | 'state'>;
  readonly clusterMembers: Gauge<'status'>;
  readonly databaseUp: Gauge;
  readonly flowRunning: Gauge;
  readonly flowWaiting: Gauge;
  readonly flowReserved: Gauge;
  readonly flowBucketLevel: Gauge;
  readonly flowUsed: Counter;
  readonly flowThrottled: Counter;
  readonly tasksWaiting: Gauge;
  readonly scheduleTicks: Gauge;

  // size: one declaration per metric; splitting the table would scatter the names.
  constructor(options: { defaultMetrics: boolean } = { defaultMetrics: true }) {
    const registers = [this.registry];
    // The nodejs_eventloop_lag_* histogram samples every 100 ms rather than prom-client's 10: a timer a
    // hundred times a second was the largest cost of an idle hub (the hub's own lag figure is SystemSampler's).
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
    this.actorCrashes = new Counter({
      name: 'hive_actor_crashes_total',
      help: 'Actor handler failures',
      labelNames: ['actor'],
      registers,
    });
    this.actorRestarts = new Counter({
      name: 'hive_actor_restarts_total',
      help: 'Actor restarts by the supervisor (reason: crash or manual)',
      labelNames: ['actor', 'reason'],
      registers,
    });
    this.actorEscalations = new Counter({
      name: 'hive_actor_escalations_total',
      help: 'Actors that exceeded their restart intensity and were escalated',
      labelNames: ['actor'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'hive_dead_letters_total',
      help: 'Messages not delivered: to stopped actors, left in a stopped mailbox, or asks left unanswered',
      labelNames: ['actor', 'reason'],
      registers,
    });
    this.mailboxRejections = new Counter({
      name: 'hive_mailbox_rejections_total',
      help: 'Messages refused because the mailbox was at its bound',
      labelNames: ['actor'],
      registers,
    });
    this.unhandledErrors = new Counter({
      name: 'hive_unhandled_errors_total',
      help: 'Unhandled promise rejections and uncaught exceptions',
      labelNames: ['kind'],
      registers,
    });
    this.swallowedErrors = new Counter({
      name: 'hive_swallowed_errors_total',
      help: 'Errors caught, logged and not propagated (e.g. during shutdown)',
      labelNames: ['module'],
      registers,
    });
    this.mailboxDepth = new Gauge({
      name: 'hive_mailbox_depth',
      help: 'Messages waiting per actor',
      labelNames: ['actor'],
      registers,
    });
    this.httpRequests = new Counter({
      name: 'hive_http_requests_total',
      help: 'HTTP requests answered, by route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'hive_http_request_duration_seconds',
      help: 'Time from a request read to its answer',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.taskEvents = new Counter({
      name: 'hive_task_events_total',
      help: 'Task lifecycle events (task.created, task.completed, ...)',
      labelNames: ['type'],
      registers,
    });
    this.agentEvents = new Counter({
      name: 'hive_agent_events_total',
      help: 'Agent lifecycle events (agent.registered, ...)',
      labelNames: ['type'],
      registers,
    });
    this.cpuPercent = new Gauge({
      name: 'hive_cpu_percent',
      help: 'Process CPU use, percent of [performance] cpu_cores',
      registers,
    });
    this.memoryPercent = new Gauge({
      name: 'hive_memory_percent',
      help: 'Resident memory, percent of [performance] memory_limit_mb',
      registers,
    });
    this.tasks = new Gauge({
      name: 'hive_tasks',
      help: 'Tasks in the store by status',
      labelNames: ['status'],
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'hive_queue_depth',
      help: 'Pending tasks (submissions beyond hive_queue_max_pending get QUEUE_FULL)',
      registers,
    });
    this.queueMax = new Gauge({ name: 'hive_queue_max_pending', help: '[tasks] max_pending', registers });
    this.moduleState = new Gauge({
      name: 'hive_module_state',
      help: 'Module actor state: 1 for the state it is in',
      labelNames: ['module', 'state'],
      registers,
    });
    this.clusterMembers = new Gauge({
      name: 'hive_cluster_members',
      help: 'Cluster members by status (cluster mode)',
      labelNames: ['status'],
      registers,
    });
    this.flowRunning = new Gauge({
      name: 'hive_flow_running',
      help: 'Tasks holding a concurrency key (assigned or running), cluster-wide',
      labelNames: ['key'],
      registers,
    });
    this.flowWaiting = new Gauge({
      name: 'hive_flow_waiting',
      help: 'Pending tasks carrying a concurrency key, cluster-wide',
      labelNames: ['key'],
      registers,
    });
    this.flowReserved = new Gauge({
      name: 'hive_flow_reserved',
      help: 'What the tasks holding a key reserved (their cost estimates), by unit',
      labelNames: ['key', 'unit'],
      registers,
    });
    this.flowBucketLevel = new Gauge({
      name: 'hive_flow_bucket_level',
      help: "A key's rate or budget bucket: what it holds now",
      labelNames: ['key', 'bucket'],
      registers,
    });
    this.flowUsed = new Counter({
      name: 'hive_flow_used_total',
      help: "Usage this node's agents reported for a key, by unit (since start)",
      labelNames: ['key', 'unit'],
      registers,
    });
    this.flowThrottled = new Counter({
      name: 'hive_flow_throttled_seconds_total',
      help: "Time this node's claims found a key taking nothing (at its limit, its bucket short), since start",
      labelNames: ['key'],
      registers,
    });
    this.tasksWaiting = new Gauge({
      name: 'hive_tasks_waiting',
      help: 'Tasks in status waiting by what they wait for (timer, signal, approval, children), cluster-wide',
      labelNames: ['reason'],
      registers,
    });
    this.scheduleTicks = new Gauge({
      name: 'hive_schedule_ticks',
      help: "A schedule's ticks since it was made, fired or skipped (overlap, missed), cluster-wide",
      labelNames: ['schedule', 'outcome'],
      registers,
    });
    this.databaseUp = new Gauge({
      name: 'hive_database_up',
      help: '1 when the database answered a ping at this scrape',
      registers,
    });
  }
}
