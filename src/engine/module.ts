/**
 * The engine module: the task engine's place in the supervision tree (under
 * the hive, beside the other modules, in /api/modules as `engine`). Its ticks
 * drive the engine's periodic work; a part that fails (not an outage) is
 * halted by the engine and reported here as `engine.fault`, which crashes this
 * actor, so its supervisor restarts it with backoff and counts it toward the
 * restart intensity; each incarnation's init starts the halted parts again.
 * Running handlers and the tasks in memory belong to the engine object, not to
 * an incarnation: a restart neither loses nor runs a task twice.
 */
import { HubError, assertNever } from '../errors/index.js';
import type { ActorSpec, ModulePing } from '../runtime/index.js';
import type { EngineTick, TaskEngine } from './engine.js';
import type { EnginePart } from './types.js';

export type EngineMsg =
  ModulePing | { type: 'engine.tick'; tick: EngineTick } | { type: 'engine.fault'; part: EnginePart; error: string };

export function engineSpec(engine: TaskEngine): ActorSpec<EngineMsg, TaskEngine> {
  return {
    name: 'engine',
    init: (ctx) => {
      const parts = engine.restartParts();
      if (parts.length > 0)
        ctx.log.info({ event: 'engine.restarted', parts }, `task engine: ${parts.join(', ')} running again`);
      return engine;
    },
    receive: (state, msg) => {
      switch (msg.type) {
        case 'module.ping':
          msg.replyTo.ok(true);
          return state;
        case 'engine.tick':
          // Background work reports back by message: a failed tick becomes a fault of its part.
          state
            .tick(msg.tick)
            .catch((err: unknown) => state.fault(msg.tick === 'claim' ? 'claim' : 'lease_keeper', err));
          return state;
        case 'engine.fault':
          throw new HubError('INTERNAL', `task engine ${msg.part} failed: ${msg.error}`, {
            details: { part: msg.part },
          });
        default:
          return assertNever(msg);
      }
    },
  };
}
