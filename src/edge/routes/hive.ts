/** /api/hive/status, /api/modules (status, restart, reset) and the neural routes (not enabled in this build). */
import { HubError } from '../../errors/index.js';
import type { ReplyTo } from '../../runtime/index.js';
import type { Hive, ModuleStatus } from '../../../actors/hive/hive.js';
import { MODULE_NAMES, type ModuleName } from '../../../actors/hive/messages.js';
import type { HiveStatus, SwarmCoordinatorMsg } from '../../../actors/swarm-coordinator/messages.js';
import { ok } from '../envelope.js';
import type { EdgeRequest, Router } from '../router.js';

function moduleName(req: EdgeRequest): ModuleName {
  const name = req.params['name'] ?? '';
  if (!(MODULE_NAMES as readonly string[]).includes(name)) {
    throw new HubError('MODULE_NOT_FOUND', `no module named "${name}"; modules: ${MODULE_NAMES.join(', ')}`, { details: { module: name } });
  }
  return name as ModuleName;
}

function statusOf(hive: Hive, name: string): ModuleStatus {
  const s = hive.status().find((m) => m.name === name);
  if (s === undefined) throw new HubError('MODULE_NOT_FOUND', `no module named "${name}"`, { details: { module: name } });
  return s;
}

const NEURAL_OFF = (): Promise<never> =>
  Promise.reject(
    new HubError('NOT_IMPLEMENTED', 'the neural processor is not enabled in this build: text analysis and agent-fit scoring arrive with the ONNX release; tasks are matched by declared capabilities meanwhile', {
      details: { module: 'neural' },
    }),
  );

export function hiveRoutes(router: Router, hive: Hive): void {
  router.add('GET', '/api/hive/status', 'Hive-wide counts and rates, modules and nodes', async () => {
    const status = await hive.ask(hive.modules.swarm_coordinator, (replyTo: ReplyTo<HiveStatus>): SwarmCoordinatorMsg => ({ type: 'hive.status', replyTo }));
    return { status: 200, body: ok(status) };
  });

  router.add('GET', '/api/modules', 'Every module actor with its supervision status', () => Promise.resolve({ status: 200, body: ok({ modules: hive.status() }) }));

  router.add('GET', '/api/modules/:name/status', 'One module: supervision status and a ping round trip', async (req) => {
    const name = moduleName(req);
    const start = performance.now();
    let ping: Record<string, unknown>;
    try {
      await hive.ping(name, 1000);
      ping = { ok: true, latency_ms: Math.round((performance.now() - start) * 100) / 100 };
    } catch (err) {
      ping = { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    return { status: 200, body: ok({ ...statusOf(hive, name), ping }) };
  });

  router.add('POST', '/api/modules/:name/restart', 'Restart a module actor; its state is rebuilt from storage', async (req) => {
    const name = moduleName(req);
    hive.restartModule(name);
    await hive.ping(name); // answered by the new incarnation
    return { status: 200, body: ok({ module: name, action: 'restarted', ...statusOf(hive, name) }) };
  });

  router.add('POST', '/api/modules/:name/reset', 'Rebuild a module\'s in-memory state from storage (never deletes a task)', async (req) => {
    const name = moduleName(req);
    hive.resetModule(name);
    await hive.ping(name);
    return { status: 200, body: ok({ module: name, action: 'reset', ...statusOf(hive, name) }) };
  });

  router.add('POST', '/api/neural/analyze', 'Neural text analysis (answers NOT_IMPLEMENTED until the neural release)', NEURAL_OFF);
  router.add('GET', '/api/modules/neural/status', 'Neural processor status (NOT_IMPLEMENTED until the neural release)', NEURAL_OFF);
  router.add('POST', '/api/modules/neural/restart', 'Restart the neural processor (NOT_IMPLEMENTED until the neural release)', NEURAL_OFF);
  router.add('POST', '/api/modules/neural/clear-cache', 'Clear the neural cache (NOT_IMPLEMENTED until the neural release)', NEURAL_OFF);
}
