/**
 * In-process publish/subscribe of hub events (task and agent lifecycle, hive
 * status, metrics). Modules publish after the change is stored; adapters
 * (the /ws edge, later gRPC WatchTasks) subscribe. Delivery is synchronous and
 * in publish order, so one task's events reach every listener in lifecycle order.
 */
export const EVENT_TOPICS = ['tasks', 'agents', 'hive', 'metrics'] as const;
export type EventTopic = (typeof EVENT_TOPICS)[number];

export interface HubEvent {
  topic: EventTopic;
  type: string;
  data: unknown;
  timestamp: string;
}

export type EventListener = (event: HubEvent) => void;

export class EventBus {
  private readonly listeners = new Set<EventListener>();
  /** Listener exceptions caught (a listener must never break a publisher). */
  listenerErrors = 0;
  published = 0;

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(topic: EventTopic, type: string, data: unknown): void {
    const event: HubEvent = { topic, type, data, timestamp: new Date().toISOString() };
    this.published++;
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        this.listenerErrors++;
      }
    }
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}
