/**
 * Module operations, transport-neutral: list, status (with a ping), restart and
 * reset, on this node or (`node`) another node of the cluster; the neural
 * processor's restart with its status.
 */
import type { Hive } from '../../actors/hive/hive.js';
import type { ModuleOp } from '../../actors/hive/module-ops.js';
import { optionalName } from './validate.js';
import { moduleAsker } from './ask.js';

/** Where a module request goes: this node, or another node of the cluster. */
export type ModuleOpRunner = (node: string | undefined, op: ModuleOp) => Promise<Record<string, unknown>>;

type Answer = Promise<Record<string, unknown>>;

export class ModulesApi {
  private readonly neural;

  constructor(
    private readonly hive: Hive,
    private readonly run: ModuleOpRunner,
  ) {
    this.neural = moduleAsker(hive, 'neural');
  }

  list(node: unknown): Answer {
    return this.run(optionalName(node, 'node'), { op: 'list' });
  }

  /** `op`: status, restart or reset of the module `name` (MODULE_NOT_FOUND for another name). */
  one(op: 'status' | 'restart' | 'reset', name: unknown, node: unknown): Answer {
    return this.run(optionalName(node, 'node'), { op, name: typeof name === 'string' ? name : '' });
  }

  /** Restarts the neural processor (models opened again) and answers with its status. */
  async restartNeural(): Answer {
    this.hive.restartModule('neural');
    await this.hive.ping('neural');
    const neural = await this.neural('neural.status', {});
    const module = this.hive.status().find((m) => m.name === 'neural');
    return { module: 'neural', action: 'restarted', ...module, neural };
  }
}
