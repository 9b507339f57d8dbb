/**
 * The hub's REST API from the page: the envelope, the session (tokens kept in
 * localStorage, refreshed a minute before they expire) and a clear error for
 * every refusal. With security off, /auth/me answers the anonymous admin and no
 * login is needed.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface Session {
  access_token: string;
  refresh_token: string;
  /** When the access token expires (ms since the epoch). */
  expires_at: number;
}

export interface Me {
  kind: 'user' | 'key' | 'anonymous';
  id: string;
  name: string;
  roles: string[];
  permissions: string[];
  may_approve: boolean;
}

const KEY = 'hub.session';
let session: Session | null = readSession();
let refreshTimer: number | undefined;
const expiredListeners = new Set<() => void>();

function readSession(): Session | null {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Session | null;
    return s !== null && typeof s.access_token === 'string' ? s : null;
  } catch {
    return null;
  }
}

function keep(s: Session | null): void {
  session = s;
  if (s === null) localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, JSON.stringify(s));
  window.clearTimeout(refreshTimer);
  if (s !== null)
    refreshTimer = window.setTimeout(() => void refresh(), Math.max(1000, s.expires_at - Date.now() - 60_000));
}

export function accessToken(): string | undefined {
  return session?.access_token;
}

/** Called when the session ends by itself (refresh refused): the app shows the login page. */
export function onSessionExpired(fn: () => void): () => void {
  expiredListeners.add(fn);
  return () => expiredListeners.delete(fn);
}

interface Envelope<T> {
  success: boolean;
  data?: T;
  error?: { code: string; message: string; details?: Record<string, unknown> };
}

async function send<T>(method: string, path: string, body?: unknown, retried = false): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (session !== null) headers['authorization'] = `Bearer ${session.access_token}`;
  const init: RequestInit = { method, headers };
  if (body !== undefined) init.body = JSON.stringify(body);
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, 'UNREACHABLE', `the hub did not answer (${String(err)})`);
  }
  const env = (await res.json().catch(() => ({ success: false }))) as Envelope<T>;
  if (res.status === 401 && session !== null && !retried && !path.startsWith('/auth/')) {
    if (await refresh()) return send(method, path, body, true);
  }
  if (!res.ok || env.success !== true) {
    const e = env.error ?? { code: `HTTP_${res.status}`, message: res.statusText };
    throw new ApiError(res.status, e.code, e.message, e.details ?? {});
  }
  return env.data as T;
}

export const api = {
  get: <T>(path: string): Promise<T> => send<T>('GET', path),
  post: <T>(path: string, body: unknown = {}): Promise<T> => send<T>('POST', path, body),
  put: <T>(path: string, body: unknown): Promise<T> => send<T>('PUT', path, body),
  del: <T>(path: string): Promise<T> => send<T>('DELETE', path),
};

interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

function sessionOf(t: Tokens): Session {
  return { access_token: t.access_token, refresh_token: t.refresh_token, expires_at: Date.now() + t.expires_in * 1000 };
}

let refreshing: Promise<boolean> | undefined;

/** Exchanges the refresh token for a new pair (one at a time); false, and the session ends, when refused. */
export function refresh(): Promise<boolean> {
  const current = session;
  if (current === null) return Promise.resolve(false);
  refreshing ??= send<Tokens>('POST', '/auth/refresh', { refresh_token: current.refresh_token })
    .then((t) => (keep(sessionOf(t)), true))
    .catch(() => {
      keep(null);
      for (const fn of expiredListeners) fn();
      return false;
    })
    .finally(() => (refreshing = undefined));
  return refreshing;
}

export async function login(username: string, password: string): Promise<void> {
  keep(sessionOf(await send<Tokens>('POST', '/auth/login', { username, password })));
}

export async function logout(): Promise<void> {
  const current = session;
  if (current !== null)
    await send('POST', '/auth/logout', { refresh_token: current.refresh_token }).catch(() => undefined);
  keep(null);
}

/**
 * Who the page acts as; null when it must log in. Asked without a request that
 * fails: with no session, /auth/status says whether security is on; a stored
 * session whose access token has expired is refreshed first.
 */
export async function me(): Promise<Me | null> {
  if (session === null) {
    const { security_enabled } = await send<{ security_enabled: boolean }>('GET', '/auth/status');
    if (security_enabled) return null;
  } else if (session.expires_at < Date.now() + 5000) {
    if (!(await refresh())) return null;
  } else keep(session); // schedules the refresh of a session read from storage
  try {
    return await send<Me>('GET', '/auth/me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}
