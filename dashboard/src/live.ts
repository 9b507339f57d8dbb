/**
 * The one /ws connection of the page: subscribes to every topic, reconnects with
 * backoff (a fresh token each time), and hands each event to the listeners of
 * its type. Views listen here instead of polling.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { accessToken, refresh } from './api';

export interface LiveEvent {
  type: string;
  data: Record<string, unknown>;
  timestamp: string;
}

type Listener = (e: LiveEvent) => void;
export type LiveState = 'connecting' | 'open' | 'closed';

const TOPICS = ['tasks', 'agents', 'hive', 'metrics'];
const listeners = new Set<{ match: (type: string) => boolean; fn: Listener }>();
const stateListeners = new Set<(s: LiveState) => void>();
let socket: WebSocket | undefined;
let state: LiveState = 'closed';
let attempt = 0;
let stopped = true;
let timer: number | undefined;

function setState(s: LiveState): void {
  state = s;
  for (const fn of stateListeners) fn(s);
}

function url(): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const token = accessToken();
  return `${proto}//${location.host}/ws${token === undefined ? '' : `?access_token=${encodeURIComponent(token)}`}`;
}

function dispatch(raw: string): void {
  let e: LiveEvent;
  try {
    e = JSON.parse(raw) as LiveEvent;
  } catch {
    return;
  }
  for (const l of listeners) if (l.match(e.type)) l.fn(e);
}

export function connectLive(): void {
  stopped = false;
  window.clearTimeout(timer);
  socket?.close();
  setState('connecting');
  const ws = new WebSocket(url());
  socket = ws;
  ws.onopen = () => {
    attempt = 0;
    setState('open');
    ws.send(JSON.stringify({ type: 'subscribe', topics: TOPICS }));
  };
  ws.onmessage = (m) => dispatch(String(m.data));
  ws.onclose = (e) => {
    if (socket !== ws) return;
    setState('closed');
    if (stopped) return;
    const retry = (): void => void (timer = window.setTimeout(connectLive, Math.min(10_000, 250 * 2 ** attempt++)));
    // 4401: the credentials ended (revoked, expired, user removed). A refresh gets new ones, or ends the
    // session (the app then shows the login page); either way the old token is not tried again.
    if (e.code === 4401) void refresh().then((ok) => (ok ? retry() : disconnectLive()));
    else retry();
  };
}

export function disconnectLive(): void {
  stopped = true;
  window.clearTimeout(timer);
  const ws = socket;
  socket = undefined;
  ws?.close();
  setState('closed');
}

/** Listens to events whose type is one of `types` (a prefix ending in '.' matches a family, '*' all). */
export function onLive(types: readonly string[], fn: Listener): () => void {
  const match = (t: string): boolean => types.some((p) => p === '*' || p === t || (p.endsWith('.') && t.startsWith(p)));
  const entry = { match, fn };
  listeners.add(entry);
  return () => listeners.delete(entry);
}

/** A hook: calls the latest `fn` for each matching event while the component is mounted. */
export function useLive(types: readonly string[], fn: Listener): void {
  const ref = useRef(fn);
  ref.current = fn;
  const key = types.join(',');
  useEffect(() => onLive(key.split(','), (e) => ref.current(e)), [key]);
}

export function useLiveState(): LiveState {
  const [s, set] = useState(state);
  useEffect(() => {
    stateListeners.add(set);
    set(state); // it may have changed between the render and this effect
    return () => void stateListeners.delete(set);
  }, []);
  return s;
}
