/**
 * /ws on the edge's port: observers subscribe to topics (tasks, agents, hive,
 * metrics) and receive {type, data, timestamp} events from the EventBus.
 * Limits: [websocket] max_connections (close 1013), max_message_size_mb (uWS
 * closes oversized messages), timeout_seconds idle timeout with automatic
 * pings, and a send-buffer bound per client: a client that does not read is
 * dropped and counted, and never slows the others. Events reach their topic's
 * subscribers by uWS publish/subscribe: one serialisation and one native call
 * per event, whatever the number of observers; uWS closes a subscriber the
 * moment a message to it would pass the bound, so no client that stays
 * connected ever misses one.
 */
import uWS from 'uWebSockets.js';
import { errorMessage } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { EVENT_TOPICS, type EventBus, type PublicTopic, type HubEvent } from '../runtime/index.js';
import type { Credentials, Principal } from '../auth/service.js';
import { upgradeSocket, type Conn } from './ws-upgrade.js';

export interface WsOptions {
  bus: EventBus;
  log: Logger;
  maxConnections: number;
  heartbeatSeconds: number;
  idleTimeoutSeconds: number;
  maxMessageBytes: number;
  maxBufferedBytes: number;
  broadcastSeconds: number;
  /** Checks a connection's credentials (security enabled); refusals answer the upgrade with 401/403/429. */
  authorize?: ((credentials: Credentials) => Promise<Principal>) | undefined;
  /** Follows an open connection's credentials: calls onRevoked once they no longer hold; returns the unwatch. */
  watch?: ((credentials: Credentials, onRevoked: (reason: string) => void) => () => void) | undefined;
  /** Current hive status and metrics, sent on subscribe and every broadcastSeconds. */
  snapshot: (topic: 'hive' | 'metrics') => Promise<unknown>;
}

const OBSERVED_TOPICS: readonly PublicTopic[] = ['tasks', 'agents', 'hive'];

export interface WsStats {
  connections: number;
  max_connections: number;
  accepted_total: number;
  refused_total: number;
  messages_sent: number;
  messages_received: number;
  bytes_sent: number;
  dropped: number;
  errors_sent: number;
  subscriptions: Record<PublicTopic, number>;
}

type Socket = uWS.WebSocket<Conn>;

const CLOSE_TRY_AGAIN_LATER = 1013;
/** What uWS closes a connection with when it passes maxBackpressure (and what a vanished client gets). */
const CLOSE_ABNORMAL = 1006;
/** Every accepted connection subscribes to this internal topic (heartbeats). */
const ALL = '$all';
/** A frame's header, counted with its text in the bytes sent since the last sweep. */
const FRAME_BYTES = 16;
const CLOSE_TOO_BIG = 1009;
/** The connection's credentials were revoked, removed or expired (docs/api.md). */
export const CLOSE_CREDENTIALS_REVOKED = 4401;

export class WsHub {
  private readonly conns = new Set<Socket>();
  private app: uWS.TemplatedApp | undefined;
  /** Bytes sent to any one connection since the last slow-consumer sweep (at most half the bound between sweeps). */
  private sinceSweep = 0;
  private nextId = 1;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unsubscribe: () => void;
  private readonly counters = {
    accepted_total: 0,
    refused_total: 0,
    messages_sent: 0,
    messages_received: 0,
    bytes_sent: 0,
    dropped: 0,
    errors_sent: 0,
  };

  constructor(private readonly o: WsOptions) {
    this.unsubscribe = o.bus.subscribe((e) => this.broadcast(e));
    this.every(o.heartbeatSeconds * 1000, () => this.heartbeat());
    this.every(o.broadcastSeconds * 1000, () => {
      void this.publishSnapshot('hive');
      void this.publishSnapshot('metrics');
    });
  }

  /** Closes the connection with 4401 once its credentials no longer hold. */
  private followCredentials(ws: Socket): void {
    const data = ws.getUserData();
    if (this.o.watch === undefined || data.credentials === undefined) return;
    data.unwatch = this.o.watch(data.credentials, (reason) => {
      if (!this.conns.has(ws)) return;
      this.conns.delete(ws);
      this.syncObserver(ws, true);
      ws.end(CLOSE_CREDENTIALS_REVOKED, reason.slice(0, 120));
    });
  }

  attach(app: uWS.TemplatedApp): void {
    this.app = app;
    app.ws<Conn>('/ws', {
      // uWS cuts a connection off without a close frame above its limit: give it headroom and close with 1009 ourselves.
      maxPayloadLength: this.o.maxMessageBytes * 2,
      // uWS counts idle time in 4 s steps and needs at least 8 s.
      idleTimeout: Math.max(8, this.o.idleTimeoutSeconds),
      sendPingsAutomatically: true,
      maxBackpressure: this.o.maxBufferedBytes,
      closeOnBackpressureLimit: 1,
      compression: uWS.DISABLED,
      upgrade: (res, req, context) => this.upgrade(res, req, context),
      open: (ws) => this.opened(ws),
      message: (ws, message, isBinary) => {
        this.counters.messages_received++;
        if (message.byteLength > this.o.maxMessageBytes) {
          this.conns.delete(ws);
          ws.end(
            CLOSE_TOO_BIG,
            `message of ${message.byteLength} bytes is above max_message_size_mb (${this.o.maxMessageBytes} bytes)`,
          );
          return;
        }
        this.onMessage(ws, isBinary ? undefined : Buffer.from(message).toString('utf8'));
      },
      close: (ws, code) => {
        const d = ws.getUserData();
        // Still ours and closed abnormally after it fell behind: uWS dropped it at the bound.
        if (this.conns.delete(ws) && code === CLOSE_ABNORMAL && d.pressured === true)
          this.dropped(d.id, 'at the bound');
        d.unwatch?.();
        this.syncObserver(ws, true);
      },
    });
  }

  /** Accepts the upgrade (refused past max_connections at open), after the credentials are checked when security is on. */
  private upgrade(res: uWS.HttpResponse, req: uWS.HttpRequest, context: uWS.us_socket_context_t): void {
    const conn = {
      id: this.nextId++,
      topics: new Set<PublicTopic>(),
      refused: this.conns.size >= this.o.maxConnections,
    };
    upgradeSocket(res, req, context, conn, this.o.authorize);
  }

  private opened(ws: uWS.WebSocket<Conn>): void {
    if (ws.getUserData().refused) {
      this.counters.refused_total++;
      ws.end(CLOSE_TRY_AGAIN_LATER, `max_connections (${this.o.maxConnections}) reached; try again later`);
      return;
    }
    this.conns.add(ws);
    ws.subscribe(ALL);
    this.counters.accepted_total++;
    this.followCredentials(ws);
    this.sendTo(ws, {
      type: 'welcome',
      data: { topics: EVENT_TOPICS, heartbeat_interval: this.o.heartbeatSeconds },
      timestamp: new Date().toISOString(),
    });
  }

  stats(): WsStats {
    const subscriptions = Object.fromEntries(EVENT_TOPICS.map((t) => [t, 0])) as Record<PublicTopic, number>;
    for (const ws of this.conns) for (const t of ws.getUserData().topics) subscriptions[t]++;
    return { connections: this.conns.size, max_connections: this.o.maxConnections, ...this.counters, subscriptions };
  }

  /** Closes every connection (going away) and stops the timers. */
  close(): void {
    this.unsubscribe();
    for (const t of this.timers) clearInterval(t);
    for (const ws of [...this.conns]) ws.end(1001, 'hub shutting down');
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  private onMessage(ws: Socket, text: string | undefined): void {
    let msg: unknown;
    try {
      if (text === undefined) throw new Error('binary frames are not accepted; send JSON text');
      msg = JSON.parse(text);
    } catch (err) {
      this.sendError(ws, 'VALIDATION_FAILED', `malformed message: ${errorMessage(err)}`);
      return;
    }
    const m = msg as { type?: unknown; topics?: unknown };
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg) || typeof m.type !== 'string') {
      this.sendError(
        ws,
        'VALIDATION_FAILED',
        'type: expected a message {"type": "subscribe" | "unsubscribe" | "ping", ...}',
      );
      return;
    }
    switch (m.type) {
      case 'ping':
        this.sendTo(ws, { type: 'pong', data: null, timestamp: new Date().toISOString() });
        return;
      case 'subscribe':
      case 'unsubscribe':
        this.changeTopics(ws, m.type, m.topics);
        return;
      default:
        this.sendError(
          ws,
          'VALIDATION_FAILED',
          `type: unknown message type ${JSON.stringify(m.type.slice(0, 64))}; expected subscribe, unsubscribe or ping`,
        );
    }
  }

  private changeTopics(ws: Socket, action: 'subscribe' | 'unsubscribe', topics: unknown): void {
    if (
      !Array.isArray(topics) ||
      topics.length === 0 ||
      topics.some((t) => typeof t !== 'string' || !(EVENT_TOPICS as readonly string[]).includes(t))
    ) {
      this.sendError(ws, 'VALIDATION_FAILED', `topics: expected a non-empty array of ${EVENT_TOPICS.join(', ')}`);
      return;
    }
    const set = ws.getUserData().topics;
    for (const t of topics as PublicTopic[]) {
      if (action === 'subscribe') {
        set.add(t);
        ws.subscribe(t);
      } else {
        set.delete(t);
        ws.unsubscribe(t);
      }
    }
    this.sendTo(ws, { type: `${action}d`, data: { topics: [...set] }, timestamp: new Date().toISOString() });
    this.syncObserver(ws, false);
    if (action === 'subscribe') {
      if (topics.includes('hive')) void this.snapshotTo(ws, 'hive');
      if (topics.includes('metrics')) void this.snapshotTo(ws, 'metrics');
    }
  }

  /** Counts this connection as an observer of events (see EventBus.observe) while it subscribes to tasks, agents or hive. */
  private syncObserver(ws: Socket, closing: boolean): void {
    const d = ws.getUserData();
    const now = !closing && OBSERVED_TOPICS.some((t) => d.topics.has(t));
    if (now === (d.observing === true)) return;
    d.observing = now;
    this.o.bus.observe(now ? 1 : -1);
  }

  private async snapshotTo(ws: Socket, topic: 'hive' | 'metrics'): Promise<void> {
    try {
      const data = await this.o.snapshot(topic);
      if (this.conns.has(ws))
        this.sendTo(ws, {
          type: topic === 'hive' ? 'hive.status' : 'metrics.update',
          data,
          timestamp: new Date().toISOString(),
        });
    } catch (err) {
      this.o.log.warn({ err }, `could not build the ${topic} snapshot for a WebSocket client`);
    }
  }

  private async publishSnapshot(topic: 'hive' | 'metrics'): Promise<void> {
    if (![...this.conns].some((ws) => ws.getUserData().topics.has(topic))) return;
    try {
      this.o.bus.publish(topic, topic === 'hive' ? 'hive.status' : 'metrics.update', await this.o.snapshot(topic));
    } catch (err) {
      this.o.log.warn({ err }, `could not build the periodic ${topic} snapshot`);
    }
  }

  private heartbeat(): void {
    const text = JSON.stringify({
      type: 'heartbeat',
      data: { connections: this.conns.size },
      timestamp: new Date().toISOString(),
    });
    this.publish(ALL, () => text);
  }

  private broadcast(e: HubEvent): void {
    if (e.topic === 'engine') return; // the engine's word to the modules, not for observers
    this.publish(e.topic, () =>
      JSON.stringify(
        e.origin === undefined
          ? { type: e.type, data: e.data, timestamp: e.timestamp }
          : { type: e.type, data: e.data, timestamp: e.timestamp, node_id: e.origin },
      ),
    );
  }

  /**
   * One native call delivers to every subscriber of the topic (uWS skips none
   * silently: see closeOnBackpressureLimit); the text is made only when the
   * topic has a subscriber.
   */
  private publish(topic: string, make: () => string): void {
    const n = this.app?.numSubscribers(topic) ?? 0;
    if (n === 0) return;
    const text = make();
    this.beforeSending(text.length);
    this.app?.publish(topic, text, false, false);
    this.counters.messages_sent += n;
    this.counters.bytes_sent += text.length * n;
  }

  /**
   * Before sending `length` bytes: once half the bound has been sent since the
   * last sweep, marks every connection whose unsent data passed half the bound.
   * uWS closes a connection only above the bound, so one it closes was marked:
   * it is counted and logged as a slow consumer dropped, and a client that
   * vanished on its own is not.
   */
  private beforeSending(length: number): void {
    this.sinceSweep += length + FRAME_BYTES;
    if (this.sinceSweep * 2 <= this.o.maxBufferedBytes) return;
    this.sinceSweep = length + FRAME_BYTES;
    for (const ws of this.conns) ws.getUserData().pressured = ws.getBufferedAmount() * 2 > this.o.maxBufferedBytes;
  }

  private dropped(conn: number, why: string, buffered?: number): void {
    this.counters.dropped++;
    this.o.log.warn(
      { event: 'ws.dropped', conn, ...(buffered !== undefined ? { buffered } : {}) },
      `WebSocket client dropped ${why}: more than ${this.o.maxBufferedBytes} bytes unsent (slow consumer)`,
    );
  }

  private sendError(ws: Socket, code: string, message: string): void {
    this.counters.errors_sent++;
    this.sendTo(ws, { type: 'error', data: { code, message }, timestamp: new Date().toISOString() });
  }

  private sendTo(ws: Socket, event: { type: string; data: unknown; timestamp: string }): void {
    this.sendText(ws, JSON.stringify(event));
  }

  /** Sends, or drops a client whose unsent data passed the bound (it is not reading). */
  private sendText(ws: Socket, text: string): void {
    const buffered = ws.getBufferedAmount();
    if (buffered > this.o.maxBufferedBytes) {
      this.conns.delete(ws);
      this.dropped(ws.getUserData().id, 'before a send', buffered);
      ws.close();
      return;
    }
    this.beforeSending(text.length);
    ws.send(text, false, false);
    this.counters.messages_sent++;
    this.counters.bytes_sent += text.length;
  }
}
