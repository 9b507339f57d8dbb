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

  constructor(options: { defaultMetrics: boolean } = { defaultMetrics: true }) {
    const registers = [this.registry];
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.actorCrashes = new Counter({ name: 'hive_actor_crashes_total', help: 'Actor handler failures', labelNames: ['actor'], registers });
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
    this.mailboxDepth = new Gauge({ name: 'hive_mailbox_depth', help: 'Messages waiting per actor', labelNames: ['actor'], registers });
    this.httpRequests = new Counter({ name: 'hive_http_requests_total', help: 'HTTP requests answered, by route pattern and status', labelNames: ['method', 'route', 'status'], registers });
    this.httpDuration = new Histogram({
      name: 'hive_http_request_duration_seconds',
      help: 'Time from a request read to its answer',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.taskEvents = new Counter({ name: 'hive_task_events_total', help: 'Task lifecycle events (task.created, task.completed, ...)', labelNames: ['type'], registers });
    this.agentEvents = new Counter({ name: 'hive_agent_events_total', help: 'Agent lifecycle events (agent.registered, ...)', labelNames: ['type'], registers });
  }
}
