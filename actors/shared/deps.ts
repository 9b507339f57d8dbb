import type { HubConfig } from '../../src/config/index.js';
import type { Logger } from '../../src/log/logger.js';
import type { EventBus } from '../../src/runtime/index.js';
import type { Member, Store } from '../../src/storage/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import type { Handler } from '../../src/engine/handler.js';
import type { TaskEngine } from '../../src/engine/engine.js';
import type { Sessions } from '../../src/engine/sessions.js';

/** What every module actor is built with (passed down by constructor, never global). */
export interface ModuleDeps {
  readonly config: HubConfig;
  readonly store: Store;
  readonly log: Logger;
  readonly nodeId: string;
  readonly startedAt: Date;
  /** Lifecycle events for observers (/ws); published after the change is stored. */
  readonly events: EventBus;
  /** This node's task engine: deques, running handlers, batched storage (outlives actor restarts). */
  readonly engine: TaskEngine;
  /** Remote agents' sessions (the gRPC AgentService adds them; agent_management binds agents to them). */
  readonly sessions: Sessions;
  /** Executor kinds by name: built-ins plus [agents.executors] modules. */
  readonly handlers: ReadonlyMap<string, Handler>;
  /** The other nodes, in cluster mode. */
  readonly cluster?: ClusterView | undefined;
}

/** What modules see of the cluster: its members, and the modules of other nodes. */
export interface ClusterView {
  /** The members as last read from cluster_members (this node included). */
  members(): readonly Member[];
  /** Asks a module on another node (the message must be plain data: it travels as JSON). */
  ask<M, R>(
    node: string,
    module: 'swarm_coordinator' | 'task_management' | 'agent_management',
    build: (replyTo: ReplyTo<R>) => M,
    timeoutMs?: number,
  ): Promise<R>;
}
