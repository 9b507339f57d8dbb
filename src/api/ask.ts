/** How the API layer talks to a module: typed asks by message type, bounded by the call's deadline. */
import type { ActorRef, ReplyOf, RequestBody, RequestType } from '../runtime/index.js';
import type { Hive, ModuleName, ModuleRefs } from '../../actors/hive/hive.js';

/** Bounds a call: the caller's deadline (gRPC), else the actor system's default. */
export type CallOptions = { timeoutMs?: number | undefined };

type MsgOf<R> = R extends ActorRef<infer M> ? M : never;

/**
 * Asks to the module `name`: `ask('task.get', { id }, o)` answers the reply type
 * of 'task.get'. The module's ref is read at each call, so an API object can be
 * built before the hive has started (the router's route table is).
 */
export function moduleAsker<N extends ModuleName>(hive: Hive, name: N) {
  type M = MsgOf<ModuleRefs[N]>;
  return <T extends RequestType<M>>(type: T, body: RequestBody<M, T>, o: CallOptions = {}): Promise<ReplyOf<M, T>> =>
    hive.to(hive.modules[name] as ActorRef<M>)(type, body, o.timeoutMs);
}
