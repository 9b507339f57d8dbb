/** /api/hive/status, /api/modules (status, restart, reset) and the neural routes (not enabled in this build). */
import { HubError } from '../../errors/index.js';
import type { ReplyTo } from '../../runtime/index.js';
import type { Hive } from '../../../actors/hive/hive.js';
import type { ModuleOp } from '../../../actors/hive/module-ops.js';
import { parseQuery } from '../query.js';
import type { HiveStatus, SwarmCoordinatorMsg } from '../../../actors/swarm-coordinator/messages.js';
import { ok } from '../envelope.js';
import type { EdgeRequest, Router } from '../router.js';

/** Where a module request goes: this node, or another node of the cluster (?node=). */
export type ModuleOpRunner = (node: string | undefined, op: ModuleOp) => Promise<Record<string, unknown>>;

const NODE_QUERY = { node: { kind: 'name' } } as const;

const NEURAL_OFF = (): Promise<never> =>
  Promise.reject(
    new HubError('NOT_IMPLEMENTED', 'the neural processor is not enabled in this build: text analysis and agent-fit scoring arrive with the ONNX release; tasks are matched by declared capabilities meanwhile', {
      details: { module: 'neural' },
    }),
  );

export function hiveRoutes(router: Router, hive: Hive, modules: ModuleOpRunner): void {
  router.add('GET', '/api/hive/status', 'Hive-wide counts and rates, modules and nodes (the whole cluster)', async () => {
    const status = await hive.ask(hive.modules.swarm_coordinator, (replyTo: ReplyTo<HiveStatus>): SwarmCoordinatorMsg => ({ type: 'hive.status', replyTo }));
    return { status: 200, body: ok(status) };
  });

  const op = (build: (req: EdgeRequest) => ModuleOp) => async (req: EdgeRequest) => {
    const { node } = parseQuery(req.query, NODE_QUERY);
    return { status: 200, body: ok(await modules(node, build(req))) };
  };
  const name = (req: EdgeRequest): string => req.params['name'] ?? '';
  router.add('GET', '/api/modules', 'Every module actor with its supervision status (?node= another node)', op(() => ({ op: 'list' })), { query: true });
  router.add('GET', '/api/modules/:name/status', 'One module: supervision status and a ping round trip (?node=)', op((req) => ({ op: 'status', name: name(req) })), { query: true });
  router.add('POST', '/api/modules/:name/restart', 'Restart a module actor; its state is rebuilt from storage (?node=)', op((req) => ({ op: 'restart', name: name(req) })), { query: true });
  router.add('POST', '/api/modules/:name/reset', 'Rebuild a module\'s in-memory state from storage, never deleting a task (?node=)', op((req) => ({ op: 'reset', name: name(req) })), { query: true });

  router.add('POST', '/api/neural/analyze', 'Neural text analysis (answers NOT_IMPLEMENTED until the neural release)', NEURAL_OFF);
  router.add('GET', '/api/modules/neural/status', 'Neural processor status (NOT_IMPLEMENTED until the neural release)', NEURAL_OFF);
  router.add('POST', '/api/modules/neural/restart', 'Restart the neural processor (NOT_IMPLEMENTED until the neural release)', NEURAL_OFF);
  router.add('POST', '/api/modules/neural/clear-cache', 'Clear the neural cache (NOT_IMPLEMENTED until the neural release)', NEURAL_OFF);
}
