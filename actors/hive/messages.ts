import type { ActorRef, ReplyTo } from '../../src/runtime/index.js';
import type { AgentManagementMsg } from '../agent-management/messages.js';
import type { TaskManagementMsg } from '../task-distributor/messages.js';
import type { SwarmCoordinatorMsg } from '../swarm-coordinator/messages.js';
import type { NeuralMsg } from '../neural-processor/messages.js';
import type { EngineMsg } from '../../src/engine/module.js';

/** The module actors under the hive, by the names operators use (/api/modules/:name). */
export interface ModuleRefs {
  agent_management: ActorRef<AgentManagementMsg>;
  task_management: ActorRef<TaskManagementMsg>;
  swarm_coordinator: ActorRef<SwarmCoordinatorMsg>;
  neural: ActorRef<NeuralMsg>;
  engine: ActorRef<EngineMsg>;
}

export type ModuleName = keyof ModuleRefs;
export const MODULE_NAMES: readonly ModuleName[] = [
  'agent_management',
  'task_management',
  'swarm_coordinator',
  'neural',
  'engine',
];

/** Messages to the hive root supervisor. */
export type HiveMsg =
  { type: 'module.failed'; name: string; error: string } | { type: 'hive.modules'; replyTo: ReplyTo<ModuleRefs> };
