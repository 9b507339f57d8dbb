/** Every HTTP route of the edge, in one router (docs/api.md documents each; a test checks both ways). */
import type { HubConfig } from '../../config/index.js';
import type { HubMetrics } from '../../metrics/registry.js';
import type { Store } from '../../storage/index.js';
import type { Hive } from '../../../actors/hive/hive.js';
import { ok } from '../envelope.js';
import { healthRoute } from '../health-route.js';
import type { MetricsReporter } from '../metrics-report.js';
import { Router } from '../router.js';
import { agentRoutes } from './agents.js';
import { hiveRoutes, type ModuleOpRunner } from './hive.js';
import { authRoutes } from './auth.js';
import type { AuthService } from '../../auth/service.js';
import { taskRoutes } from './tasks.js';
import { TasksApi } from '../../api/tasks.js';
import { AgentsApi } from '../../api/agents.js';
import { FlowApi } from '../../api/flow.js';
import { flowRoutes } from './flow.js';
import { WorkflowsApi } from '../../api/workflows.js';
import { workflowRoutes } from './workflows.js';

export interface RouterDeps {
  config: HubConfig;
  hive: Hive;
  store: Store;
  metrics: HubMetrics;
  reporter: MetricsReporter;
  nodeId: string;
  version: string;
  startedAt: Date;
  /** Runs a module operation here or on another node (?node=). */
  modules: ModuleOpRunner;
  auth: AuthService;
}

export function buildRouter(d: RouterDeps): Router {
  const router = new Router();
  router.add(
    'GET',
    '/health',
    'Health: status, version, uptime, modules; ?detailed=true adds every check',
    healthRoute(d),
    { query: true },
  );
  router.add(
    'GET',
    '/metrics',
    "Measured metrics as JSON (the troubleshooting guide's data.current_metrics) with trends",
    async () => ({ status: 200, body: ok(await d.reporter.report()) }),
  );
  router.add(
    'GET',
    '/metrics/prometheus',
    'Prometheus text format: Node.js process metrics and hive_* metrics',
    async () => {
      await d.reporter.publish(d.metrics);
      return {
        status: 200,
        text: { contentType: d.metrics.registry.contentType, content: await d.metrics.registry.metrics() },
      };
    },
  );
  router.add(
    'GET',
    '/metrics/history',
    "This node's metric samples of the last hour (every 10 s): throughput totals, queue depth, task time, lag, memory",
    () => Promise.resolve({ status: 200, body: ok(d.reporter.history()) }),
  );
  agentRoutes(router, new AgentsApi(d.hive));
  taskRoutes(router, new TasksApi(d.hive, d.config));
  hiveRoutes(router, d.hive, d.modules);
  authRoutes(router, d.auth, d.config.workflows.approver_role);
  flowRoutes(router, new FlowApi(d.hive, d.config));
  workflowRoutes(router, new WorkflowsApi(d.hive, d.config));
  return router;
}
