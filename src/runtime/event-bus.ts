/**
 * In-process publish/subscribe of hub events (task and agent lifecycle, hive
 * status, metrics). Modules publish after the change is stored; adapters
 * (the /ws edge, later gRPC WatchTasks) subscribe. Delivery is synchronous and
 * in publish order, so one task's events reach every listener in lifecycle order.
 */
export const EVENT_TOPICS = ['tasks', 'agents', 'hive', 'metrics'] as const;
/**
 * The public topics, and `engine`: the task engine's word to the modules
 * (outcomes per stored batch, faults), which no observer can subscribe to and
 * no node forwards.
 */
export type EventTopic = PublicTopic | 'engine';
export type PublicTopic = (typeof EVENT_TOPICS)[number];

export interface HubEvent {
  topic: EventTopic;
  type: string;
  data: unknown;
  timestamp: string;
  /** The node the event happened on, when it is another node of the cluster (forwarded); undefined for this node's own. */
  origin?: string | undefined;
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

  /**
   * Publishes an event. `data` may be a function: it is called only if a listener
   * reads the event's data (the hot path publishes several events per task, and
   * most listeners only count them).
   */
  publish(topic: EventTopic, type: string, data: unknown): void {
    this.published++;
    if (this.listeners.size === 0) return;
    this.deliver(lazyEvent(topic, type, data));
  }

  /** Publishes an event that happened on another node of the cluster (its data already built). */
  publishForwarded(event: { topic: EventTopic; type: string; data: unknown; timestamp: string }, origin: string): void {
    if (this.listeners.size === 0) return;
    this.deliver({ topic: event.topic, type: event.type, data: event.data, timestamp: event.timestamp, origin });
  }

  private deliver(event: HubEvent): void {
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

  private observerCount = 0;
  private readonly observingListeners = new Set<(observing: boolean) => void>();

  /**
   * Adapters count the outside observers of task, agent and hive events (a
   * WebSocket subscribed to them, a gRPC watcher). In a cluster, other nodes
   * forward their events to this node only while it has some.
   */
  observe(delta: 1 | -1): void {
    const before = this.observerCount > 0;
    this.observerCount = Math.max(0, this.observerCount + delta);
    if (this.observerCount > 0 !== before) for (const fn of this.observingListeners) fn(this.observerCount > 0);
  }

  get observing(): boolean {
    return this.observerCount > 0;
  }

  /** Called when `observing` changes; returns the function that removes the callback. */
  onObserving(fn: (observing: boolean) => void): () => void {
    this.observingListeners.add(fn);
    return () => this.observingListeners.delete(fn);
  }
}

/** An event whose data (a function) is built on first read, and whose timestamp is formatted on first read. */
class LazyEvent implements HubEvent {
  private built = false;
  private value: unknown;
  private iso: string | undefined;

  constructor(
    readonly topic: EventTopic,
    readonly type: string,
    private readonly source: unknown,
    private readonly at: number,
  ) {}

  get data(): unknown {
    if (!this.built) {
      this.value = typeof this.source === 'function' ? (this.source as () => unknown)() : this.source;
      this.built = true;
    }
    return this.value;
  }

  get timestamp(): string {
    this.iso ??= new Date(this.at).toISOString();
    return this.iso;
  }
}

function lazyEvent(topic: EventTopic, type: string, data: unknown): HubEvent {
  return new LazyEvent(topic, type, data, Date.now());
}
