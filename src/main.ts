/**
 * The CLI and the only file that wires everything (ARCHITECTURE.md): the command
 * line's entry, and the start of a serving hub: storage, runtime (actor system,
 * engine, hive, cluster), observers (metrics, /ws), edges (HTTP, gRPC), signals
 * and the drain on stop. The offline commands are in cli/admin.ts, the operator
 * commands in cli/client.ts.
 */
// size: the one wiring file; each step of the start is its own function, in the order they run.
import { errorMessage, HubError } from './errors/index.js';
import { ActorSystem, supervisionOptions } from './runtime/index.js';
import {
  acquireNodeLock,
  describeStore,
  inBatches,
  keepPruning,
  openStore,
  prepareDataDir,
  type NodeLock,
} from './storage/index.js';
import type { Handler } from './engine/handler.js';
import os from 'node:os';
import { HttpEdge } from './edge/http-server.js';
import { buildRouter } from './edge/routes/index.js';
import { MetricsReporter } from './edge/metrics-report.js';
import { WsHub } from './edge/ws.js';
import { GrpcServer } from './grpc/server.js';
import { SystemSampler } from './metrics/system.js';
import { EventBus } from './runtime/index.js';
import { TaskEngine } from './engine/engine.js';
import { TasksApi } from './api/tasks.js';
import type { Task } from './domain/index.js';
import { engineOptions } from './engine/types.js';
import { Sessions } from './engine/sessions.js';
import { neuralFitModel } from '../actors/neural-processor/fit-model.js';
import { loadHandlers } from '../actors/agent/executors.js';
import type { HiveStatus, SwarmCoordinatorMsg } from '../actors/swarm-coordinator/messages.js';
import { isAgentOperation, type AgentOperation } from '../actors/agent-management/messages.js';
import { Hive } from '../actors/hive/hive.js';
import type { ModuleDeps } from '../actors/shared/deps.js';
import type { ReplyTo } from './runtime/index.js';
import { AuthService } from './auth/service.js';
import { WS_PERMISSIONS } from './auth/permissions.js';
import type { Store } from './storage/index.js';
import { ClusterNode } from '../cluster/node.js';
import { exposeActor } from '../cluster/remote-ref.js';
import { isModuleOp, moduleOpRunner, runModuleOp } from '../actors/hive/module-ops.js';
import type { ClusterView } from '../actors/shared/deps.js';
import { VERSION } from './version.js';
import {
  ConfigError,
  adminPasswordFromEnv,
  loadConfig,
  readProcessEnv,
  stdoutIsJournal,
  type HubConfig,
} from './config/index.js';
import { createLogger, moduleLogger, reopenLogFiles, type Logger } from './log/logger.js';
import { HubMetrics } from './metrics/registry.js';
import { HELP, parseCli, type CliArgs } from './cli/args.js';
import { probeNeural, runCheck } from './cli/check.js';
import { runClient } from './cli/client.js';
import { DashboardAssets } from './edge/dashboard.js';
import { configFailure, fail } from './cli/exit.js';
import { backup, migrate, restore, users } from './cli/admin.js';

async function serve(config: HubConfig, log: Logger, metrics: HubMetrics): Promise<void> {
  const startedAt = new Date();
  const nodeId = config.cluster.node_id;
  if (!config.security.enabled)
    log.warn(
      { module: 'security' },
      'security: authentication is disabled (security.enabled = false): every route is open; never run like this in production',
    );
  const handlers = await loadHandlers(config.agents.executors, process.cwd());
  await probeNeural(config, log);
  const { store, nodeLock, auth, stopRetention } = await openStorage(config, log, nodeId);
  const rt = await startRuntime(config, log, metrics, { store, nodeId, startedAt, handlers });
  const { system, engine, cluster, hive } = rt;
  const { sampler, reporter, ws } = startObservers(config, log, rt, store, auth);
  const { edge, grpcServer } = await startEdges(config, log, metrics, rt, { store, auth, reporter, ws, startedAt });
  // A cluster node joins once its gRPC port is known, and claims only once it is a member.
  if (cluster !== undefined && grpcServer !== undefined)
    await cluster.start({
      node_id: nodeId,
      address: advertiseAddress(config),
      grpc_port: grpcServer.port,
      http_port: edge.port,
    });
  // The previous process's leases are taken back only now that this one holds the node lock and its ports.
  await engine.recover(startedAt);
  engine.start();
  await cluster?.ready();
  // The handlers first: a signal that arrives before a process handles it ends the process at once (the OS's default).
  onHangup(log);
  onSignals(async (signal) => {
    log.info({ signal }, `${signal} received: stopping`);
    edge.close();
    ws.close();
    cluster?.closeLinks();
    await grpcServer?.stop(Math.min(2000, config.server.shutdown_grace_ms));
    reporter.stop();
    sampler.stop();
    hive.stopTimers();
    // Deque tasks go back at once; running ones get the grace, then are requeued; every end is stored.
    await engine.stop(config.server.shutdown_grace_ms);
    await drain(hive, config.server.shutdown_grace_ms, log);
    // Heartbeats ran until here: the leases are released now, so the node can say it left.
    await cluster?.leave();
    await system.shutdown();
    await store.close();
    stopRetention();
    await nodeLock.release();
    log.info('stopped');
  });
  log.info(
    { module: 'edge', port: edge.port, host: config.server.host, version: VERSION, profile: config.profile },
    `hub listening on http://${config.server.host}:${edge.port}`,
  );
}

/** The store, migrated, under this node's lock, with security bootstrapped. */
async function openStorage(
  config: HubConfig,
  log: Logger,
  nodeId: string,
): Promise<{ store: Store; nodeLock: NodeLock; auth: AuthService; stopRetention: () => void }> {
  prepareDataDir(config.database.data_dir);
  const store = await openStore(config, moduleLogger(log, 'storage'));
  // Before anything touches a lease: a second process of this node id refuses here, having changed nothing.
  const nodeLock = await acquireNodeLock({
    url: config.database.url,
    dataDir: config.database.data_dir,
    nodeId,
    log: moduleLogger(log, 'storage'),
  }).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  const applied = await store.migrate();
  log.info({ module: 'storage', engine: store.engine, applied }, `store ${describeStore(config)} ready`);
  const auth = new AuthService({ config, store: store.security, log: moduleLogger(log, 'security') });
  try {
    if ((await auth.bootstrap(adminPasswordFromEnv())) === 'admin created')
      log.warn(
        { module: 'security', event: 'security.admin_created' },
        'security: first start: user admin created from HIVE_SECURITY_ADMIN_PASSWORD; unset it now',
      );
  } catch (err) {
    await store.close();
    throw err;
  }
  const stopAudit = auth.keepAuditRetention();
  const stopTasks = keepPruning({
    days: config.tasks.retention_days,
    prune: (before) => inBatches((limit) => store.pruneTasks(before, limit), 5000),
    log,
    event: 'tasks.pruned',
    module: 'tasks',
    what: 'ended tasks',
  });
  const stopRetention = (): void => {
    stopAudit();
    stopTasks();
  };
  return { store, nodeLock, auth, stopRetention };
}

interface Runtime {
  system: ActorSystem;
  events: EventBus;
  sessions: Sessions;
  engine: TaskEngine;
  cluster: ClusterNode | undefined;
  hive: Hive;
}

/** Counts this node's task and agent events (hive_task_events_total, hive_agent_events_total). */
function countEvents(events: EventBus, metrics: HubMetrics): void {
  events.subscribe((e) => {
    if (e.origin !== undefined) return;
    const counter = e.topic === 'tasks' ? metrics.taskEvents : e.topic === 'agents' ? metrics.agentEvents : undefined;
    counter?.inc({ type: e.type });
  });
}

/** The actor system, the engine, the cluster node and the supervision tree, with the agent pool ensured. */
async function startRuntime(
  config: HubConfig,
  log: Logger,
  metrics: HubMetrics,
  parts: { store: Store; nodeId: string; startedAt: Date; handlers: ReadonlyMap<string, Handler> },
): Promise<Runtime> {
  const { store, nodeId, startedAt, handlers } = parts;
  const system = new ActorSystem({
    name: 'hive',
    log: moduleLogger(log, 'runtime'),
    metrics,
    ...supervisionOptions(config.supervision),
    onRootFailed: (info, error) => {
      // Nothing above the hive can restart it: exit so that systemd (Restart=on-failure) does.
      fail(new HubError('INTERNAL', `the hive supervisor failed (${info.path}): ${errorMessage(error)}`), log);
      process.exit(1);
    },
  });
  const events = new EventBus();
  countEvents(events, metrics);
  const sessions = new Sessions();
  // Handlers' ctx.spawn goes through task_management, which starts after the engine.
  const late: { spawn?: (parentId: string, tasks: readonly unknown[]) => Promise<Task[]> } = {};
  const engine = new TaskEngine(
    engineOptions(config, {
      store,
      events,
      log: moduleLogger(log, 'engine'),
      nodeId,
      handlers,
      sessions,
      spawn: (parentId, tasks) =>
        late.spawn === undefined ? Promise.reject(new Error('the hive is starting')) : late.spawn(parentId, tasks),
    }),
  );
  const cluster = config.cluster.enabled
    ? clusterNode(config, store, events, engine, moduleLogger(log, 'cluster'))
    : undefined;
  const deps: ModuleDeps = {
    config,
    store,
    log: moduleLogger(log, 'hive'),
    nodeId,
    startedAt,
    events,
    engine,
    sessions,
    handlers,
    cluster: cluster && clusterView(cluster),
  };
  const hive = await Hive.start(system, deps);
  const tasksApi = new TasksApi(hive, config);
  late.spawn = (parentId, tasks) => tasksApi.spawn(parentId, tasks);
  if (cluster !== undefined) serveToCluster(cluster, system, hive);
  if (config.neural.enabled && config.neural.fit_placement)
    engine.useFitModel(neuralFitModel(system, hive.modules.neural));
  await hive.to(hive.modules.agent_management)('agent.ensure_pool', {});
  return { system, events, sessions, engine, cluster, hive };
}

/** Metrics sampling and reporting, and the /ws hub (attached to the edge later). */
function startObservers(
  config: HubConfig,
  log: Logger,
  rt: Runtime,
  store: Store,
  auth: AuthService,
): { sampler: SystemSampler; reporter: MetricsReporter; ws: WsHub } {
  const { hive, cluster, events } = rt;
  const sampler = new SystemSampler(
    config.performance.memory_limit_mb,
    config.performance.cpu_cores || os.availableParallelism(),
  );
  // The reporter reads WebSocket stats and the hub sends the reporter's metrics: each refers to the other lazily.
  const reporter: MetricsReporter = new MetricsReporter({
    config,
    hive,
    store,
    sampler,
    ws: () => ws.stats(),
    cluster: cluster && (() => cluster.stats()),
    members: cluster && (() => cluster.members()),
  });
  const ws: WsHub = new WsHub({
    bus: events,
    log: moduleLogger(log, 'websocket'),
    maxConnections: config.websocket.max_connections,
    heartbeatSeconds: config.websocket.heartbeat_interval,
    idleTimeoutSeconds: config.websocket.timeout_seconds,
    maxMessageBytes: Math.round(config.websocket.max_message_size_mb * 1_048_576),
    maxBufferedBytes: config.websocket.max_buffered_kb * 1024,
    broadcastSeconds: config.websocket.broadcast_interval_seconds,
    authorize: auth.enabled
      ? (credentials) => auth.check(WS_PERMISSIONS['connect'] ?? 'read', credentials, 'WebSocket /ws')
      : undefined,
    watch: auth.enabled
      ? (credentials, onRevoked) =>
          auth.watch(WS_PERMISSIONS['connect'] ?? 'read', credentials, 'WebSocket /ws', (err) => onRevoked(err.message))
      : undefined,
    snapshot: async (topic) =>
      topic === 'hive'
        ? hive.ask(hive.modules.swarm_coordinator, (replyTo: ReplyTo<HiveStatus>): SwarmCoordinatorMsg => ({
            type: 'hive.status',
            replyTo,
          }))
        : (await reporter.report())['current_metrics'],
  });
  return { sampler, reporter, ws };
}

/** The HTTP edge and the gRPC server; a port that cannot be taken stops the start, with what was started undone. */
async function startEdges(
  config: HubConfig,
  log: Logger,
  metrics: HubMetrics,
  rt: Runtime,
  parts: { store: Store; auth: AuthService; reporter: MetricsReporter; ws: WsHub; startedAt: Date },
): Promise<{ edge: HttpEdge; grpcServer: GrpcServer | undefined }> {
  const { hive, cluster, system, engine } = rt;
  const { store, auth, reporter, ws, startedAt } = parts;
  const nodeId = config.cluster.node_id;
  const modules = moduleOpRunner(hive, nodeId, cluster && ((node, op) => cluster.transport.ask(node, 'modules', op)));
  const router = buildRouter({
    config,
    hive,
    store,
    metrics,
    reporter,
    nodeId,
    version: VERSION,
    startedAt,
    modules,
    auth,
  });
  const dashboard = DashboardAssets.load();
  if (dashboard === undefined)
    log.warn('the web dashboard is not built (npm run build:dashboard): /dashboard answers 503');
  let edge: HttpEdge;
  try {
    edge = await HttpEdge.listen(config.server.host, config.server.port, router, {
      log: moduleLogger(log, 'edge'),
      maxBodyBytes: config.server.max_body_bytes,
      corsOrigins: config.server.cors_origins,
      authorize: auth.enabled
        ? (permission, credentials, what) => auth.check(permission, credentials, what)
        : undefined,
      attach: (app) => ws.attach(app),
      dashboard,
      onAnswered: (method, route, status, ms) => {
        metrics.httpRequests.inc({ method, route, status });
        metrics.httpDuration.observe({ method, route }, ms / 1000);
      },
    });
  } catch (err) {
    await system.shutdown();
    await store.close();
    throw err;
  }
  let grpcServer: GrpcServer | undefined;
  try {
    grpcServer = config.grpc.enabled ? await startGrpc(config, log, rt, auth) : undefined;
  } catch (err) {
    edge.close();
    await engine.stop(0);
    await system.shutdown();
    await store.close();
    throw err;
  }
  return { edge, grpcServer };
}

/** The gRPC server (HiveService, AgentService, and the cluster service on the same port). */
async function startGrpc(config: HubConfig, log: Logger, rt: Runtime, auth: AuthService): Promise<GrpcServer> {
  const { hive, events, sessions, cluster } = rt;
  const server = await GrpcServer.start(config.server.host, {
    config,
    hive,
    events,
    sessions,
    auth,
    log: moduleLogger(log, 'grpc'),
    extraServices: cluster ? [cluster.transport.service()] : [],
  });
  log.info({ module: 'grpc', grpc_port: server.port }, `gRPC listening on ${config.server.host}:${server.port}`);
  return server;
}

function clusterNode(config: HubConfig, store: Store, events: EventBus, engine: TaskEngine, log: Logger): ClusterNode {
  return new ClusterNode({
    config,
    store,
    log,
    events,
    onEvicted: (reason) => {
      const dropped = engine.evict(reason);
      log.warn(
        { event: 'cluster.evicted', dropped },
        `stopped claiming; ${dropped} queued or running tasks dropped (other nodes own them now)`,
      );
    },
    onRejoined: (epoch) => {
      engine.resume();
      log.info({ event: 'cluster.rejoined', epoch }, `rejoined the cluster with epoch ${epoch}; claiming again`);
    },
    onCancelled: (taskId, node) => engine.abort(taskId, `cancelled through node ${node}`),
  });
}

function clusterView(cluster: ClusterNode): ClusterView {
  return {
    members: () => cluster.members(),
    ask: (node, module, build, timeoutMs) => cluster.ask(node, module, build, timeoutMs),
  };
}

/** What this node serves to the other nodes: its hive status and module operations. */
function serveToCluster(cluster: ClusterNode, system: ActorSystem, hive: Hive): void {
  exposeActor(
    cluster.transport,
    system,
    'swarm_coordinator',
    hive.modules.swarm_coordinator,
    (m): m is Omit<SwarmCoordinatorMsg, 'replyTo'> =>
      typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'hive.status',
  );
  // Operations on an agent reach its own node (its engine slot and actor) from any node.
  exposeActor(
    cluster.transport,
    system,
    'agent_management',
    hive.modules.agent_management,
    (m): m is Omit<AgentOperation, 'replyTo'> => isAgentOperation(m) && m.forwarded === true,
  );
  cluster.transport.expose('modules', (op) => {
    if (!isModuleOp(op))
      throw new HubError('VALIDATION_FAILED', 'modules: expected {op: list | status | restart | reset, name}');
    return runModuleOp(hive, cluster.nodeId, op);
  });
  // Being declared dead marked this node's agents offline: after the rejoin, store their real states again.
  cluster.whenRejoined(() => system.tell(hive.modules.agent_management, { type: 'agent.restore' }));
}

/** The host other nodes dial: [cluster] advertise_address, else server.host unless it is a wildcard, else the host name. */
function advertiseAddress(config: HubConfig): string {
  if (config.cluster.advertise_address !== '') return config.cluster.advertise_address;
  const host = config.server.host;
  return host === '0.0.0.0' || host === '::' || host === '' ? os.hostname() : host;
}

/** Waits until module mailboxes are empty, at most graceMs. */
async function drain(hive: Hive, graceMs: number, log: Logger): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (hive.status().some((m) => m.mailbox_depth > 0)) {
    if (Date.now() > deadline) {
      log.warn({ modules: hive.status() }, `shutdown grace of ${graceMs} ms ran out with messages still queued`);
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** SIGHUP (logrotate, `systemctl reload`) reopens the log file instead of ending the process. */
function onHangup(log: Logger): void {
  process.on('SIGHUP', () => {
    const files = reopenLogFiles();
    log.info(
      { event: 'log.reopened', files },
      files === 0 ? 'SIGHUP: no log file to reopen ([logging] file is empty)' : 'SIGHUP: log file reopened',
    );
  });
}

function onSignals(stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    stop(signal).then(
      () => process.exit(0),
      (err: unknown) => process.exit(fail(err)),
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

function watchProcessErrors(log: Logger, metrics: HubMetrics): void {
  process.on('unhandledRejection', (reason) => {
    metrics.unhandledErrors.inc({ kind: 'unhandled_rejection' });
    log.error({ err: reason }, `unhandled promise rejection: ${errorMessage(reason)}`);
  });
  process.on('uncaughtException', (err) => {
    metrics.unhandledErrors.inc({ kind: 'uncaught_exception' });
    process.exit(fail(new HubError('INTERNAL', `uncaught exception: ${err.message}`, { cause: err }), log));
  });
}

async function run(args: CliArgs): Promise<number | 'serving'> {
  if (args.help) return (process.stdout.write(HELP), 0);
  if (args.version) return (process.stdout.write(`${VERSION}\n`), 0);
  // Operator commands talk to a running hub over its REST API: they need no configuration of their own.
  if (args.command === 'client' && args.client !== undefined) return runClient(args.client, readProcessEnv());
  let config: HubConfig;
  try {
    config = loadConfig({ configFile: args.configFile, port: args.port, logLevel: args.logLevel });
  } catch (err) {
    return err instanceof ConfigError ? configFailure(err) : fail(err);
  }
  const journald = stdoutIsJournal();
  const log = createLogger({ level: config.logging.level, nodeId: config.cluster.node_id, journald });
  if (args.check) return runCheck(config, log);
  try {
    if (args.command === 'migrate') return await migrate(config, log);
    if (args.command === 'users' && args.users !== undefined) return await users(config, log, args.users);
    if (args.command === 'backup' && args.file !== undefined) return await backup(config, args.file);
    if (args.command === 'restore' && args.file !== undefined) return await restore(config, log, args.file, args.force);
    // Only a serving hub writes [logging] file: a --check or migrate run by another user must not create it.
    const serveLog =
      config.logging.file === ''
        ? log
        : createLogger({
            level: config.logging.level,
            nodeId: config.cluster.node_id,
            journald,
            file: config.logging.file,
          });
    const metrics = new HubMetrics();
    watchProcessErrors(serveLog, metrics);
    await serve(config, serveLog, metrics);
    return 'serving';
  } catch (err) {
    return fail(err, log);
  }
}

let args: CliArgs;
try {
  args = parseCli(process.argv.slice(2));
} catch (err) {
  // A bad command line is exit code 2 (as getopt tools do), a failure 1.
  process.exit(fail(err) + 1);
}
const outcome = await run(args);
if (outcome !== 'serving') process.exit(outcome);
