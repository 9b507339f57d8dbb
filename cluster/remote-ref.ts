/**
 * Refs that reach an actor by node: the same tell/ask shape for an actor here
 * and one on another node. A remote ask builds the message with a stand-in
 * reply channel, sends it without it, and the receiving node asks its local
 * actor with a real one; the answer (or the HubError) comes back as the ask's
 * result. Messages that cross nodes must be JSON: plain data, no functions.
 */
import type { ActorRef, ActorSystem, ReplyTo } from '../src/runtime/index.js';
import type { NodeTransport } from './transport.js';

export interface NodeRef<Msg> {
  readonly node: string;
  tell(msg: Msg): void;
  ask<R>(build: (replyTo: ReplyTo<R>) => Msg, timeoutMs?: number): Promise<R>;
}

/** Stands in for the reply channel of a message that is sent to another node. */
const REMOTE_REPLY: ReplyTo<never> = {
  ok: () => {
    throw new Error('a remote ask is answered on its own node');
  },
  fail: () => {
    throw new Error('a remote ask is answered on its own node');
  },
  settled: false,
};

function withoutReplyTo(msg: unknown): unknown {
  if (typeof msg !== 'object' || msg === null || !('replyTo' in msg)) return msg;
  const rest: Record<string, unknown> = { ...(msg as Record<string, unknown>) };
  delete rest['replyTo'];
  return rest;
}

/** A ref to the actor served as `target` on `node`. */
export function remoteRef<Msg>(transport: NodeTransport, node: string, target: string): NodeRef<Msg> {
  return {
    node,
    tell: (msg) => transport.tell(node, target, msg),
    ask: <R>(build: (replyTo: ReplyTo<R>) => Msg, timeoutMs?: number) =>
      transport.ask<R>(node, target, withoutReplyTo(build(REMOTE_REPLY)), timeoutMs),
  };
}

/**
 * Serves a local actor to other nodes as `target`: a tell is told, an ask is
 * asked with a real reply channel. `accept` checks the message type first, so
 * a peer can only send what this actor is meant to take from other nodes.
 */
export function exposeActor<Msg>(
  transport: NodeTransport,
  system: ActorSystem,
  target: string,
  ref: ActorRef<Msg>,
  accept: (msg: unknown) => msg is Omit<Msg, 'replyTo'>,
): void {
  transport.expose(target, (payload, ctx) => {
    if (!accept(payload)) throw new Error(`${target} does not take this message from other nodes`);
    if (!ctx.ask) return system.tell(ref, payload as Msg);
    return system.ask(ref, (replyTo) => ({ ...payload, replyTo }) as Msg);
  });
}
