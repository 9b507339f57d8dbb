/** /api/hive/status, /api/modules (status, restart, reset; ?node= another node) and the neural routes: codecs over src/api. */
import type { Hive } from '../../../actors/hive/hive.js';
import { HiveApi } from '../../api/hive.js';
import { ModulesApi, type ModuleOpRunner } from '../../api/modules.js';
import { decodeQuery } from '../query.js';
import { ok } from '../envelope.js';
import type { EdgeRequest, Router } from '../router.js';

export type { ModuleOpRunner };

const NODE_QUERY = { node: 'string' } as const;

export function hiveRoutes(router: Router, hive: Hive, run: ModuleOpRunner): void {
  const api = new HiveApi(hive);
  const modules = new ModulesApi(hive, run);
  router.add(
    'GET',
    '/api/hive/status',
    'Hive-wide counts and rates, modules and nodes (the whole cluster)',
    async () => {
      return { status: 200, body: ok(await api.status()) };
    },
  );

  const node = (req: EdgeRequest): unknown => decodeQuery(req.query, NODE_QUERY).node;
  router.add(
    'GET',
    '/api/modules',
    'Every module actor with its supervision status (?node= another node)',
    async (req) => ({ status: 200, body: ok(await modules.list(node(req))) }),
    { query: true },
  );
  for (const [op, path, summary] of [
    ['status', 'status', 'One module: supervision status and a ping round trip (?node=)'],
    ['restart', 'restart', 'Restart a module actor; its state is rebuilt from storage (?node=)'],
    ['reset', 'reset', "Rebuild a module's in-memory state from storage, never deleting a task (?node=)"],
  ] as const) {
    router.add(
      op === 'status' ? 'GET' : 'POST',
      `/api/modules/:name/${path}`,
      summary,
      async (req) => ({ status: 200, body: ok(await modules.one(op, req.params['name'], node(req))) }),
      { query: true },
    );
  }

  neuralRoutes(router, hive, api, modules);
}

/** The neural processor: text analysis, and its status, restart, cache and retraining. */
function neuralRoutes(router: Router, hive: Hive, api: HiveApi, modules: ModulesApi): void {
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
    async () => ({ status: 200, body: ok(await modules.restartNeural()) }),
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
