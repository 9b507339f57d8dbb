export { ActorSystem, type ActorSystemOptions } from './actor-system.js';
export {
  ActorRef,
  type AnyActorRef,
  type ActorContext,
  type ActorSpec,
  type ActorInfo,
  type ActorStatus,
  type DeadLetter,
  type ReplyTo,
  type ModulePing,
} from './types.js';
export { decide, supervisionOptions, type SupervisionPolicy, type SupervisionDecision } from './supervision.js';
export { systemClock, type Clock } from './clock.js';
export {
  EventBus,
  EVENT_TOPICS,
  type EventTopic,
  type PublicTopic,
  type HubEvent,
  type EventListener,
} from './event-bus.js';
export type { ReplyOf, RequestBody, RequestType } from './reply.js';
