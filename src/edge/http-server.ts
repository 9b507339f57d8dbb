/**
 * The uWebSockets.js edge: HTTP on [server] port, and /ws on the same port. It
 * reads a request (bounded by [server] max_body_bytes), hands it to the
 * transport-independent core and writes the answer; no business rule lives here.
 */
import net from 'node:net';
import uWS from 'uWebSockets.js';
import { HubError } from '../errors/index.js';
import { failureResponse, handleRequest, type CoreOptions, type RawRequest, type RawResponse } from './http-core.js';
import type { Router } from './router.js';
import { NOT_BUILT, type DashboardAssets } from './dashboard.js';

export type { EdgeRequest, EdgeResponse, RouteHandler } from './router.js';

export interface EdgeOptions extends CoreOptions {
  maxBodyBytes: number;
  /** Attaches WebSocket behaviour (the /ws route) to the app before it listens. */
  attach?: (app: uWS.TemplatedApp) => void;
  /** The built web dashboard (undefined: not built; /dashboard then answers 503 with how to build it). */
  dashboard?: DashboardAssets | undefined;
}

/** Finds out why a port cannot be bound (uWS only says "false"). */
function probePort(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

function portMessage(host: string, port: number, code: string, key: string): string {
  const what = code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${code})`;
  const how =
    key === '[server] port'
      ? '(HIVE_SERVER_PORT or --port)'
      : `(HIVE_${key.replace(/[[\]]/g, '').replace(' ', '_').toUpperCase()})`;
  return `port ${port} on ${host} ${what}; stop the other process or change ${key} ${how}`;
}

function portError(host: string, port: number, code: string): HubError {
  return new HubError('STARTUP_FAILED', portMessage(host, port, code, '[server] port'), {
    details: { port, host, code },
  });
}

/** Why host:port cannot be bound now, in the words the start would use; undefined when it can (--check). */
export async function portProblem(host: string, port: number, key: string): Promise<string | undefined> {
  const code = await probePort(host, port);
  return code === undefined ? undefined : portMessage(host, port, code, key);
}

export class HttpEdge {
  private constructor(
    private readonly token: uWS.us_listen_socket,
    readonly port: number,
  ) {}

  /** Binds [server] host:port; a taken port fails with the port and the key to change. */
  static async listen(host: string, port: number, router: Router, options: EdgeOptions): Promise<HttpEdge> {
    const busy = await probePort(host, port);
    if (busy !== undefined) throw portError(host, port, busy);
    const app = uWS.App();
    options.attach?.(app);
    serveDashboard(app, options.dashboard);
    app.any('/*', (res, req) => serve(res, req, router, options));
    const token = await new Promise<uWS.us_listen_socket | false>((resolve) => app.listen(host, port, resolve));
    if (token === false) throw portError(host, port, (await probePort(host, port)) ?? 'unknown');
    return new HttpEdge(token, uWS.us_socket_local_port(token));
  }

  /** Stops accepting connections. */
  close(): void {
    uWS.us_listen_socket_close(this.token);
  }
}

/** `/` redirects to the dashboard; `/dashboard/*` serves its files (no auth: the data comes from the API, with it). */
function serveDashboard(app: uWS.TemplatedApp, assets: DashboardAssets | undefined): void {
  app.get('/', (res) => {
    res.cork(() => {
      res.writeStatus('302 Found').writeHeader('location', '/dashboard').writeHeader('cache-control', 'no-cache');
      res.end();
    });
  });
  const page = (res: uWS.HttpResponse, req: uWS.HttpRequest): void => {
    const rest = req.getUrl().slice('/dashboard'.length) || '/';
    const reply =
      assets?.serve(rest, req.getHeader('accept-encoding'), req.getHeader('host') || undefined) ?? NOT_BUILT;
    res.cork(() => {
      res.writeStatus(
        `${reply.status} ${reply.status === 200 ? 'OK' : reply.status === 404 ? 'Not Found' : 'Service Unavailable'}`,
      );
      for (const [k, v] of reply.headers) res.writeHeader(k, v);
      res.end(reply.body);
    });
  };
  app.get('/dashboard', page);
  app.get('/dashboard/*', page);
}

function tooLarge(max: number): HubError {
  return new HubError('PAYLOAD_TOO_LARGE', `the request body is larger than ${max} bytes ([server] max_body_bytes)`, {
    details: { max_body_bytes: max },
  });
}

function write(res: uWS.HttpResponse, reply: RawResponse, close = false): void {
  res.cork(() => {
    res.writeStatus(reply.statusLine);
    for (const [k, v] of reply.headers) res.writeHeader(k, v);
    res.end(reply.body, close);
  });
}

/** Reads the body in chunks (uWS reuses each chunk's memory, so each is copied); rejects past the limit. */
function readBody(res: uWS.HttpResponse, max: number, declared: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      size += chunk.byteLength;
      if (size > max) {
        if (size - chunk.byteLength <= max) reject(tooLarge(max));
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) resolve(Buffer.concat(chunks, size));
    });
    if (declared === 0) resolve(Buffer.alloc(0));
  });
}

function serve(res: uWS.HttpResponse, req: uWS.HttpRequest, router: Router, o: EdgeOptions): void {
  const headers: Record<string, string> = {};
  req.forEach((k, v) => (headers[k] = v));
  // uWS request data is valid only until the first await: copy it now.
  const method = req.getMethod().toUpperCase();
  const raw: Omit<RawRequest, 'body'> = {
    method,
    path: req.getUrl(),
    query: req.getQuery() ?? '',
    headers,
    ip: Buffer.from(res.getRemoteAddressAsText()).toString(),
  };
  let aborted = false;
  res.onAborted(() => (aborted = true));
  const declared =
    headers['content-length'] === undefined
      ? headers['transfer-encoding'] === undefined
        ? 0
        : -1
      : Number(headers['content-length']);
  if (declared > o.maxBodyBytes || Number.isNaN(declared)) {
    write(
      res,
      failureResponse(
        Number.isNaN(declared)
          ? new HubError('VALIDATION_FAILED', 'Content-Length: not a number', { details: { field: 'Content-Length' } })
          : tooLarge(o.maxBodyBytes),
      ),
      true,
    );
    return;
  }
  readBody(res, o.maxBodyBytes, declared)
    .then(
      (body) => handleRequest(router, { ...raw, body }, o),
      (err: unknown) => failureResponse(err),
    )
    .then((reply) => {
      if (!aborted) write(res, reply, reply.status === 413);
    })
    .catch((err: unknown) => o.log.error({ err }, 'writing a response failed'));
}
