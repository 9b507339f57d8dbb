/**
 * The hub's module stack in one process, for benchmarks that drive its router
 * over different transports: store, actor system, hive, router (the same pieces
 * src/main.ts wires, without the CLI, signals or /ws).
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type HubConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log/logger.js';
import { HubMetrics } from '../../src/metrics/registry.js';
import { SystemSampler } from '../../src/metrics/system.js';
import { ActorSystem, EventBus, supervisionOptions, type Clock } from '../../src/runtime/index.js';
import { openStore, type Store } from '../../src/storage/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import type { Agent } from '../../src/domain/index.js';
import type { AgentManagementMsg } from '../../actors/agent-management/messages.js';
import { buildRouter } from '../../src/edge/routes/index.js';
import { MetricsReporter } from '../../src/edge/metrics-report.js';
import type { Router } from '../../src/edge/router.js';
import { moduleOpRunner } from '../../actors/hive/module-ops.js';
import { AuthService } from '../../src/auth/service.js';
import { neuralFitModel } from '../../actors/neural-processor/fit-model.js';
import { Hive } from '../../actors/hive/hive.js';
import { TaskEngine } from '../../src/engine/engine.js';
import { engineOptions } from '../../src/engine/types.js';
import { Sessions } from '../../src/engine/sessions.js';
import { BUILTIN_HANDLERS } from '../../actors/agent/executors.js';
import type { Handler } from '../../src/engine/handler.js';

export interface HubStack {
  config: HubConfig;
  hive: Hive;
  engine: TaskEngine;
  store: Store;
  events: EventBus;
  router: Router;
  metrics: HubMetrics;
  close(): Promise<void>;
}

export async function hubStack(
  env: Record<string, string>,
  extraHandlers: Record<string, Handler> = {},
  options: { clock?: Clock } = {},
): Promise<HubStack> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hub-bench-'));
  const config = loadConfig({
    env: { HIVE_ENV: 'test', HIVE_DATABASE_DATA_DIR: dataDir, HIVE_LOGGING_LEVEL: 'error', ...env },
  });
  const log = createLogger({ level: (env['HIVE_LOGGING_LEVEL'] as 'error' | undefined) ?? 'error', nodeId: 'bench' });
  const metrics = new HubMetrics();
  const store = await openStore(config, log);
  await store.migrate();
  const system = new ActorSystem({
    name: 'bench',
    log,
    metrics,
    ...supervisionOptions(config.supervision),
    ...(options.clock !== undefined ? { clock: options.clock } : {}),
  });
  const events = new EventBus();
  const startedAt = new Date();
  const handlers = new Map(Object.entries({ ...BUILTIN_HANDLERS, ...extraHandlers }));
  const sessions = new Sessions();
  const engine = new TaskEngine(engineOptions(config, { store, events, log, nodeId: 'bench', handlers, sessions }));
  const hive = await Hive.start(system, {
    config,
    store,
    log,
    nodeId: 'bench',
    startedAt,
    events,
    engine,
    sessions,
    handlers,
  });
  if (config.neural.enabled && config.neural.fit_placement)
    engine.useFitModel(neuralFitModel(system, hive.modules.neural));
  engine.start();
  const sampler = new SystemSampler(config.performance.memory_limit_mb, os.availableParallelism());
  const reporter = new MetricsReporter({
    config,
    hive,
    store,
    sampler,
    ws: () => ({
      connections: 0,
      max_connections: 0,
      accepted_total: 0,
      refused_total: 0,
      messages_sent: 0,
      messages_received: 0,
      bytes_sent: 0,
      dropped: 0,
      errors_sent: 0,
      subscriptions: { tasks: 0, agents: 0, hive: 0, metrics: 0 },
    }),
  });
  const router = buildRouter({
    config,
    hive,
    store,
    metrics,
    reporter,
    nodeId: 'bench',
    version: 'bench',
    startedAt,
    modules: moduleOpRunner(hive, 'bench'),
    auth: new AuthService({ config, store: store.security, log }),
  });
  await hive.ask(hive.modules.agent_management, (replyTo: ReplyTo<Agent[]>): AgentManagementMsg => ({
    type: 'agent.ensure_pool',
    replyTo,
  }));
  return {
    config,
    hive,
    engine,
    store,
    events,
    router,
    metrics,
    close: async () => {
      reporter.stop();
      sampler.stop();
      hive.stopTimers();
      await engine.stop(1000);
      await system.shutdown();
      await store.close();
    },
  };
}
