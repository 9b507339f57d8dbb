/**
 * The /ws upgrade: the handshake is answered at once, or (security on) after
 * the connection's credentials are checked; a refusal answers the upgrade with
 * the error's HTTP status (401, 403, 429) and the usual error body.
 */
import { STATUS_CODES } from 'node:http';
import type uWS from 'uWebSockets.js';
import type { Credentials, Principal } from '../auth/service.js';
import { failure } from './envelope.js';
import type { PublicTopic } from '../runtime/index.js';

/** A /ws connection's own data (uWS user data). */
export interface Conn {
  id: number;
  topics: Set<PublicTopic>;
  refused: boolean;
  /** Counted in EventBus.observe. */
  observing?: boolean;
  /** Seen with unsent data near the bound: a close by uWS (code 1006) then is a slow consumer dropped. */
  pressured?: boolean;
  /** What the connection authenticated with (security on): checked again while it is open. */
  credentials?: Credentials;
  unwatch?: () => void;
}

export function upgradeSocket(
  res: uWS.HttpResponse,
  req: uWS.HttpRequest,
  context: uWS.us_socket_context_t,
  conn: Conn,
  authorize: ((credentials: Credentials) => Promise<Principal>) | undefined,
): void {
  const key = req.getHeader('sec-websocket-key');
  const protocol = req.getHeader('sec-websocket-protocol');
  const extensions = req.getHeader('sec-websocket-extensions');
  const upgrade = (credentials?: Credentials): void =>
    void res.upgrade<Conn>(credentials ? { ...conn, credentials } : conn, key, protocol, extensions, context);
  if (authorize === undefined) return upgrade();
  // Browsers cannot set headers on a WebSocket: a token or key may come as ?access_token= or ?api_key= too.
  const query = new URLSearchParams(req.getQuery() ?? '');
  const token = query.get('access_token');
  const credentials = {
    authorization: req.getHeader('authorization') || (token === null ? undefined : `Bearer ${token}`),
    apiKey: req.getHeader('x-api-key') || (query.get('api_key') ?? undefined),
    ip: Buffer.from(res.getRemoteAddressAsText()).toString(),
  };
  let aborted = false;
  res.onAborted(() => (aborted = true));
  authorize(credentials).then(
    () => {
      if (!aborted) res.cork(() => upgrade(credentials));
    },
    (err: unknown) => {
      if (aborted) return;
      const f = failure(err);
      res.cork(
        () =>
          void res
            .writeStatus(`${f.status} ${STATUS_CODES[f.status] ?? ''}`)
            .writeHeader('content-type', 'application/json')
            .end(JSON.stringify(f.body)),
      );
    },
  );
}
