/**
 * Module operations (list, status with a ping, restart, reset) as plain data in
 * and out, so that an operator's request can be served here or forwarded to
 * another node of the cluster (?node=) and served there the same way.
 */
import { HubError } from '../../src/errors/index.js';
import type { Hive, ModuleStatus } from './hive.js';
import { MODULE_NAMES, type ModuleName } from './messages.js';

export type ModuleOp = { op: 'list' } | { op: 'status' | 'restart' | 'reset'; name: string };

const OPS = new Set(['list', 'status', 'restart', 'reset']);

/** True for a well-formed ModuleOp (from another node: checked before it is run). */
export function isModuleOp(value: unknown): value is ModuleOp {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['op'] === 'string' && OPS.has(v['op']) && (v['op'] === 'list' || typeof v['name'] === 'string');
}

function moduleName(name: string): ModuleName {
  if (!(MODULE_NAMES as readonly string[]).includes(name)) {
    throw new HubError('MODULE_NOT_FOUND', `no module named "${name}"; modules: ${MODULE_NAMES.join(', ')}`, {
      details: { module: name },
    });
  }
  return name as ModuleName;
}

function statusOf(hive: Hive, name: string): ModuleStatus {
  const s = hive.status().find((m) => m.name === name);
  if (s === undefined)
    throw new HubError('MODULE_NOT_FOUND', `no module named "${name}"`, { details: { module: name } });
  return s;
}

/** Runs a module operation on this node; the answer is the route's data. */
export async function runModuleOp(hive: Hive, nodeId: string, o: ModuleOp): Promise<Record<string, unknown>> {
  if (o.op === 'list') return { node_id: nodeId, modules: hive.status() };
  const name = moduleName(o.name);
  switch (o.op) {
    case 'status': {
      const start = performance.now();
      let ping: Record<string, unknown>;
      try {
        await hive.ping(name, 1000);
        ping = { ok: true, latency_ms: Math.round((performance.now() - start) * 100) / 100 };
      } catch (err) {
        ping = { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
      return { ...statusOf(hive, name), node_id: nodeId, ping };
    }
    case 'restart':
      hive.restartModule(name);
      await hive.ping(name); // answered by the new incarnation
      return { module: name, action: 'restarted', node_id: nodeId, ...statusOf(hive, name) };
    case 'reset':
      hive.resetModule(name);
      await hive.ping(name);
      return { module: name, action: 'reset', node_id: nodeId, ...statusOf(hive, name) };
  }
}

/**
 * Serves module operations for this node and, given `remote`, forwards those
 * for another node of the cluster; without it (one node) another node is refused.
 */
export function moduleOpRunner(
  hive: Hive,
  nodeId: string,
  remote?: (node: string, op: ModuleOp) => Promise<Record<string, unknown>>,
) {
  return (node: string | undefined, op: ModuleOp): Promise<Record<string, unknown>> => {
    if (node === undefined || node === nodeId) return runModuleOp(hive, nodeId, op);
    if (remote === undefined)
      return Promise.reject(
        new HubError(
          'NODE_UNREACHABLE',
          `node: this hub is not in cluster mode; its only node is ${nodeId}, not ${node}`,
          { details: { field: 'node', node_id: node } },
        ),
      );
    return remote(node, op);
  };
}
