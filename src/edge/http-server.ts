/**
 * The uWebSockets.js edge. It decodes a request, calls a route handler and
 * encodes the reply in the envelope; no business rule lives here.
 */
import net from 'node:net';
import { STATUS_CODES } from 'node:http';
import uWS from 'uWebSockets.js';
import { HubError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { failure } from './envelope.js';

export interface EdgeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Readonly<Record<string, string>>;
}

export interface EdgeResponse {
  status: number;
  body: unknown;
}

export type RouteHandler = (req: EdgeRequest) => Promise<EdgeResponse>;

/** Routes by "METHOD /path". */
export type Routes = ReadonlyMap<string, RouteHandler>;

const SECURITY_HEADERS: ReadonlyArray<[string, string]> = [
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['referrer-policy', 'no-referrer'],
  ['cache-control', 'no-store'],
];

/** Finds out why a port cannot be bound (uWS only says "false"). */
function probePort(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

function portError(host: string, port: number, code: string): HubError {
  const what = code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${code})`;
  return new HubError('STARTUP_FAILED', `port ${port} on ${host} ${what}; stop the other process or change [server] port (HIVE_SERVER_PORT or --port)`, {
    details: { port, host, code },
  });
}

export class HttpEdge {
  private constructor(
    private readonly token: uWS.us_listen_socket,
    readonly port: number,
  ) {}

  /** Binds [server] host:port; a taken port fails with the port and the key to change. */
  static async listen(host: string, port: number, routes: Routes, log: Logger): Promise<HttpEdge> {
    const busy = await probePort(host, port);
    if (busy !== undefined) throw portError(host, port, busy);
    const app = uWS.App();
    app.any('/*', (res, req) => serve(res, req, routes, log));
    const token = await new Promise<uWS.us_listen_socket | false>((resolve) => app.listen(host, port, resolve));
    if (token === false) throw portError(host, port, (await probePort(host, port)) ?? 'unknown');
    return new HttpEdge(token, uWS.us_socket_local_port(token));
  }

  /** Stops accepting connections. */
  close(): void {
    uWS.us_listen_socket_close(this.token);
  }
}

function readRequest(req: uWS.HttpRequest): EdgeRequest {
  const headers: Record<string, string> = {};
  req.forEach((k, v) => (headers[k] = v));
  return { method: req.getMethod().toUpperCase(), path: req.getUrl(), query: new URLSearchParams(req.getQuery() ?? ''), headers };
}

function serve(res: uWS.HttpResponse, req: uWS.HttpRequest, routes: Routes, log: Logger): void {
  const request = readRequest(req); // uWS request data is valid only until the first await
  let aborted = false;
  res.onAborted(() => (aborted = true));
  const handler = routes.get(`${request.method} ${request.path}`);
  const work = handler
    ? handler(request)
    : Promise.reject(new HubError('NOT_FOUND', `no route ${request.method} ${request.path}`, { details: { method: request.method, path: request.path } }));
  work
    .catch((err: unknown) => {
      const f = failure(err);
      if (f.status >= 500) log.error({ err, path: request.path }, `request failed: ${request.method} ${request.path}`);
      else log.info({ path: request.path, status: f.status }, `request refused: ${request.method} ${request.path}`);
      return f;
    })
    .then((reply) => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(`${reply.status} ${STATUS_CODES[reply.status] ?? ''}`);
        res.writeHeader('content-type', 'application/json');
        for (const [k, v] of SECURITY_HEADERS) res.writeHeader(k, v);
        res.end(JSON.stringify(reply.body));
      });
    })
    .catch((err: unknown) => log.error({ err }, 'writing a response failed'));
}
