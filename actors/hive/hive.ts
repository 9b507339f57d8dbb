/**
 * hive: the root supervisor. Its init spawns the module actors (so a restart of
 * the hive rebuilds them all); it hears of a module that exceeded its restart
 * intensity as a `module.failed` message and marks it failed until an operator
 * restarts it. The Hive class is the handle main.ts and the adapters use.
 */
import { errorMessage, HubError, assertNever } from '../../src/errors/index.js';
import type {
  ActorInfo,
  ActorRef,
  AnyActorRef,
  ActorSpec,
  ActorSystem,
  ReplyOf,
  ReplyTo,
  RequestBody,
  RequestType,
} from '../../src/runtime/index.js';
import { agentManagementSpec } from '../agent-management/agent-management.js';
import { taskManagementSpec } from '../task-distributor/task-distributor.js';
import { swarmCoordinatorSpec } from '../swarm-coordinator/swarm-coordinator.js';
import { neuralSpec } from '../neural-processor/neural-processor.js';
import { engineSpec } from '../../src/engine/module.js';
import type { AgentOutcome, EngineFault } from '../../src/engine/types.js';
import type { EngineTick } from '../../src/engine/engine.js';
import type { ModuleDeps } from '../shared/deps.js';
import type { ModulePing } from '../../src/runtime/index.js';
import { MODULE_NAMES, type HiveMsg, type ModuleName, type ModuleRefs } from './messages.js';

/** How often agent_management stores agent state and stats. */
const TICK_MS = 1000;

function hiveSpec(deps: ModuleDeps, system: ActorSystem): ActorSpec<HiveMsg, ModuleRefs> {
  return {
    name: 'hive',
    init: (ctx) => {
      // The neural processor first: task_management asks it to infer capabilities.
      const engine = ctx.spawn(engineSpec(deps.engine));
      const neural = ctx.spawn(neuralSpec(deps));
      const agents = ctx.spawn(agentManagementSpec(deps));
      const tasks = ctx.spawn(taskManagementSpec(deps, { agents, neural }));
      const modules = (): ActorInfo[] => system.childrenInfo(ctx.self);
      const swarm = ctx.spawn(
        swarmCoordinatorSpec(deps, { ask: (ref, build) => system.ask(ref, build), agents, tasks, modules }),
      );
      return { agent_management: agents, task_management: tasks, swarm_coordinator: swarm, neural, engine };
    },
    receive: (refs, msg) => {
      switch (msg.type) {
        case 'module.failed':
          deps.log.error(
            { event: 'module.failed', failed_module: msg.name, error: msg.error },
            `module ${msg.name} failed and stays stopped until restarted (POST /api/modules/${msg.name}/restart)`,
          );
          return refs;
        case 'hive.modules':
          msg.replyTo.ok(refs);
          return refs;
        default:
          return assertNever(msg);
      }
    },
    childFailed: (name, error) => ({ type: 'module.failed', name, error: errorMessage(error) }),
  };
}

export interface ModuleStatus {
  name: string;
  status: string;
  restarts: number;
  crashes: number;
  mailbox_depth: number;
  last_error?: string;
  last_error_at?: string;
}

/** The running hive: module refs, status, and restart/reset by name. */
export class Hive {
  private readonly timers: Array<() => void> = [];

  private constructor(
    private readonly system: ActorSystem,
    private readonly root: ActorRef<HiveMsg>,
    readonly modules: ModuleRefs,
  ) {}

  /** Spawns the supervision tree and waits until every module is up. */
  static async start(system: ActorSystem, deps: ModuleDeps): Promise<Hive> {
    const root = system.spawn(hiveSpec(deps, system));
    const modules = await system.ask(root, (replyTo: ReplyTo<ModuleRefs>): HiveMsg => ({
      type: 'hive.modules',
      replyTo,
    }));
    const hive = new Hive(system, root, modules);
    await Promise.all(MODULE_NAMES.map((name) => hive.ping(name)));
    hive.every(TICK_MS, () => system.tell(modules.agent_management, { type: 'agent.flush' }));
    hive.every(TICK_MS, () => system.tell(modules.swarm_coordinator, { type: 'swarm.tick' }));
    if (deps.config.neural.enabled)
      hive.every(deps.config.neural.retrain_interval_seconds * 1000, () =>
        system.tell(modules.neural, { type: 'neural.tick' }),
      );
    for (const [tick, ms] of Object.entries(deps.engine.tickIntervals()))
      hive.every(ms, () => system.tell(modules.engine, { type: 'engine.tick', tick: tick as EngineTick }));
    // The engine's word to the modules: outcomes per stored batch (stats, learning, rates), and faults of its parts.
    // Kept until the bus goes: ends stored while the node drains still reach the agents' stats.
    deps.events.subscribe((e) => {
      if (e.topic !== 'engine') return;
      try {
        if (e.type === 'engine.outcomes') hive.outcomes(e.data as AgentOutcome[]);
        else if (e.type === 'engine.fault')
          system.tell(modules.engine, { type: 'engine.fault', ...(e.data as EngineFault) });
      } catch {
        // a module restarting or full: outcomes are statistics (the tasks are stored); a fault is reported again
      }
    });
    return hive;
  }

  private outcomes(outcomes: AgentOutcome[]): void {
    this.system.tell(this.modules.agent_management, { type: 'agent.outcomes', outcomes });
    const completed = outcomes.reduce((n, o) => n + o.completed, 0);
    const failed = outcomes.reduce((n, o) => n + o.failed, 0);
    this.system.tell(this.modules.task_management, {
      type: 'task.ended',
      completed,
      failed,
      durationsMs: outcomes.map((o) => o.durationMsTotal / Math.max(1, o.completed + o.failed)),
    });
  }

  /** Periodic notices; a module that cannot take one now (restarting, full) gets the next. */
  private every(ms: number, send: () => void): void {
    this.timers.push(
      this.system.every(ms, () => {
        try {
          send();
        } catch {
          // dead letter or full mailbox: already counted by the runtime
        }
      }),
    );
  }

  /** Stops the periodic notices (before the actor system shuts down). */
  stopTimers(): void {
    for (const stop of this.timers) stop();
    this.timers.length = 0;
  }

  /** Throws MODULE_NOT_FOUND for a name that is not a module. */
  ref(name: string): AnyActorRef {
    if (!(MODULE_NAMES as readonly string[]).includes(name)) {
      throw new HubError('MODULE_NOT_FOUND', `no module named "${name}"; modules: ${MODULE_NAMES.join(', ')}`, {
        details: { module: name },
      });
    }
    return this.modules[name as ModuleName];
  }

  /** Each module's status from the supervision tree, plus the hive root itself. */
  status(): ModuleStatus[] {
    return [this.system.info(this.root), ...MODULE_NAMES.map((n) => this.system.info(this.modules[n]))].map((i) => {
      const s: ModuleStatus = {
        name: i.name,
        status: i.status,
        restarts: i.restarts,
        crashes: i.crashes,
        mailbox_depth: i.mailboxDepth,
      };
      if (i.lastError !== undefined) s.last_error = i.lastError;
      if (i.lastErrorAt !== undefined) s.last_error_at = i.lastErrorAt;
      return s;
    });
  }

  /** Restarts a module (state rebuilt from storage); respawns it if it had failed. */
  restartModule(name: string): void {
    this.system.restart(this.ref(name));
  }

  /** Rebuilds a module's in-memory state from storage without restarting it. */
  resetModule(name: string): void {
    this.system.reset(this.ref(name));
  }

  /** Resolves when the module answers a ping within timeoutMs. */
  ping(name: ModuleName, timeoutMs?: number): Promise<true> {
    const ref = this.modules[name] as ActorRef<ModulePing>;
    return this.system.ask(ref, (replyTo: ReplyTo<true>): ModulePing => ({ type: 'module.ping', replyTo }), timeoutMs);
  }

  /** Sends a notice to a module (throws QUEUE_FULL or ACTOR_STOPPED when it cannot take it). */
  tell<M>(ref: ActorRef<M>, msg: M): void {
    this.system.tell(ref, msg);
  }

  /** Typed asks to one actor: `hive.to(ref)('hive.status', {})` (the message type picks the reply type). */
  to<M>(
    ref: ActorRef<M>,
  ): <T extends RequestType<M>>(type: T, body: RequestBody<M, T>, timeoutMs?: number) => Promise<ReplyOf<M, T>> {
    return (type, body, timeoutMs) => this.system.request(ref, type, body, timeoutMs);
  }

  ask<M, R>(ref: ActorRef<M>, build: (replyTo: ReplyTo<R>) => M, timeoutMs?: number): Promise<R> {
    return this.system.ask(ref, build, timeoutMs);
  }
}

export { MODULE_NAMES, type ModuleName, type ModuleRefs };
