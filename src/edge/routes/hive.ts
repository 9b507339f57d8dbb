/** /api/hive/status, /api/modules (status, restart, reset; ?node= another node) and the neural routes. */
import type { Hive } from '../../../actors/hive/hive.js';
import type { ModuleOp } from '../../../actors/hive/module-ops.js';
import { HiveApi } from '../../api/hive.js';
import { parseQuery } from '../query.js';
import { ok } from '../envelope.js';
import type { EdgeRequest, Router } from '../router.js';

/** Where a module request goes: this node, or another node of the cluster (?node=). */
export type ModuleOpRunner = (node: string | undefined, op: ModuleOp) => Promise<Record<string, unknown>>;

const NODE_QUERY = { node: { kind: 'name' } } as const;

export function hiveRoutes(router: Router, hive: Hive, modules: ModuleOpRunner): void {
  const api = new HiveApi(hive);
  router.add(
    'GET',
    '/api/hive/status',
    'Hive-wide counts and rates, modules and nodes (the whole cluster)',
    async () => {
      return { status: 200, body: ok(await api.status()) };
    },
  );

  const op = (build: (req: EdgeRequest) => ModuleOp) => async (req: EdgeRequest) => {
    const { node } = parseQuery(req.query, NODE_QUERY);
    return { status: 200, body: ok(await modules(node, build(req))) };
  };
  const name = (req: EdgeRequest): string => req.params['name'] ?? '';
  router.add(
    'GET',
    '/api/modules',
    'Every module actor with its supervision status (?node= another node)',
    op(() => ({ op: 'list' })),
    { query: true },
  );
  router.add(
    'GET',
    '/api/modules/:name/status',
    'One module: supervision status and a ping round trip (?node=)',
    op((req) => ({ op: 'status', name: name(req) })),
    { query: true },
  );
  router.add(
    'POST',
    '/api/modules/:name/restart',
    'Restart a module actor; its state is rebuilt from storage (?node=)',
    op((req) => ({ op: 'restart', name: name(req) })),
    { query: true },
  );
  router.add(
    'POST',
    '/api/modules/:name/reset',
    "Rebuild a module's in-memory state from storage, never deleting a task (?node=)",
    op((req) => ({ op: 'reset', name: name(req) })),
    { query: true },
  );

  neuralRoutes(router, hive, api);
}

/** The neural processor: text analysis, and its status, restart, cache and retraining. */
function neuralRoutes(router: Router, hive: Hive, api: HiveApi): void {
  router.add(
    'POST',
    '/api/neural/analyze',
    'Analyse a task text: inferred capabilities with probabilities, priority hint, keywords',
    async (req) => {
      return { status: 200, body: ok(await api.analyze(req.body)) };
    },
  );
  router.add('POST', '/api/neural/analyze/batch', 'Analyse up to 1000 texts in one request', async (req) => {
    return { status: 200, body: ok({ results: await api.analyzeBatch(req.body) }) };
  });
  router.add(
    'GET',
    '/api/modules/neural/status',
    'Neural processor: backend (cpu or cuda), models and versions, cache, inference counts, latency p50/p99, fit retraining',
    async () => {
      const status = await api.neuralStatus();
      const module = hive.status().find((m) => m.name === 'neural');
      return { status: 200, body: ok({ ...status, module }) };
    },
  );
  router.add(
    'POST',
    '/api/modules/neural/restart',
    'Restart the neural processor: models are opened again; requests in flight are answered',
    async () => {
      hive.restartModule('neural');
      await hive.ping('neural');
      const status = await api.neuralStatus();
      return {
        status: 200,
        body: ok({ module: 'neural', action: 'restarted', ...statusOf(hive, 'neural'), neural: status }),
      };
    },
  );
  router.add('POST', '/api/modules/neural/clear-cache', 'Empty the neural analysis cache', async () => {
    const r = await api.clearNeuralCache();
    return { status: 200, body: ok({ module: 'neural', action: 'cache_cleared', ...r }) };
  });
  router.add(
    'POST',
    '/api/modules/neural/retrain',
    'Retrain the agent-fit model now from the recorded outcomes',
    async () => {
      const r = await api.retrainFitModel();
      return { status: 200, body: ok({ module: 'neural', action: 'retrained', ...r }) };
    },
  );
}

function statusOf(hive: Hive, name: string): Record<string, unknown> {
  return { ...(hive.status().find((m) => m.name === name) ?? {}) };
}
