/**
 * Request handling independent of the transport: routing, the body's media type
 * and JSON, CORS, security headers and the envelope. The uWebSockets.js edge
 * uses it (and bench/http.ts runs the same core on node:http for comparison).
 */
import { STATUS_CODES } from 'node:http';
import { HubError, errorMessage, isOutage } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { failure, ok } from './envelope.js';
import type { EdgeResponse, Router } from './router.js';
import { ANONYMOUS_ADMIN, type Credentials, type Principal } from '../auth/service.js';
import { HTTP_PERMISSIONS, type Permission } from '../auth/permissions.js';

export interface RawRequest {
  method: string;
  path: string;
  query: string;
  headers: Readonly<Record<string, string>>;
  body: Buffer;
  /** The client's address (rate limits and the audit log). */
  ip?: string;
}

/** Checks a request against the permission its route needs (src/auth): returns who asks, or throws 401/403/429. */
export type Authorizer = (permission: Permission, credentials: Credentials, what: string) => Promise<Principal>;

export interface RawResponse {
  status: number;
  statusLine: string;
  headers: Array<[string, string]>;
  body: string;
}

export interface CoreOptions {
  log: Logger;
  /** Without it every request is the anonymous admin (security disabled). */
  authorize?: Authorizer | undefined;
  corsOrigins: readonly string[];
  /** Called once per answered request (metrics). */
  onAnswered?: (method: string, route: string, status: number, ms: number) => void;
}

const SECURITY_HEADERS: ReadonlyArray<[string, string]> = [
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['referrer-policy', 'no-referrer'],
  ['cache-control', 'no-store'],
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
];

function parseBody(raw: RawRequest): unknown {
  if (raw.body.length === 0) return undefined;
  const type = raw.headers['content-type'] ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) {
    throw new HubError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type: expected application/json, got ${JSON.stringify(type || '(none)')}`,
      { details: { field: 'Content-Type' } },
    );
  }
  try {
    return JSON.parse(raw.body.toString('utf8')) as unknown;
  } catch (err) {
    throw new HubError('VALIDATION_FAILED', `(body): malformed JSON: ${errorMessage(err)}`, {
      details: { field: '(body)' },
    });
  }
}

function corsHeaders(origins: readonly string[], origin: string | undefined): Array<[string, string]> {
  if (origin === undefined || origins.length === 0) return [];
  if (!origins.includes('*') && !origins.includes(origin)) return [];
  return [
    ['access-control-allow-origin', origins.includes('*') ? '*' : origin],
    ['vary', 'Origin'],
  ];
}

const PREFLIGHT: ReadonlyArray<[string, string]> = [
  ['access-control-allow-methods', 'GET, POST, PATCH, DELETE, OPTIONS'],
  ['access-control-allow-headers', 'Content-Type, Authorization, Idempotency-Key, X-API-Key'],
  ['access-control-max-age', '600'],
];

async function route(
  router: Router,
  raw: RawRequest,
  authorize: Authorizer | undefined,
): Promise<{ reply: EdgeResponse; pattern: string }> {
  const match = router.match(raw.method, raw.path);
  if (match === undefined) {
    throw new HubError('NOT_FOUND', `no route ${raw.method} ${raw.path}`, {
      details: { method: raw.method, path: raw.path },
    });
  }
  if ('allowed' in match) {
    const err = new HubError(
      'METHOD_NOT_ALLOWED',
      `${raw.path} does not accept ${raw.method}; it accepts ${match.allowed.join(', ')}`,
      { details: { method: raw.method, allowed: match.allowed } },
    );
    throw Object.assign(err, { allow: match.allowed.join(', ') });
  }
  // Who asks is settled before anything else is read: an unauthorised request learns nothing of its input.
  const what = `${raw.method} ${match.route.pattern}`;
  const principal =
    authorize === undefined
      ? ANONYMOUS_ADMIN
      : await authorize(
          HTTP_PERMISSIONS[what] ?? 'admin',
          { authorization: raw.headers['authorization'], apiKey: raw.headers['x-api-key'], ip: raw.ip },
          what,
        );
  const query = new URLSearchParams(raw.query);
  if (!match.route.query) {
    const first = [...query.keys()][0];
    if (first !== undefined)
      throw new HubError(
        'VALIDATION_FAILED',
        `${first}: unknown query parameter; ${raw.method} ${match.route.pattern} takes none`,
        { details: { field: first } },
      );
  }
  const reply = await match.route.handler({
    method: raw.method,
    path: raw.path,
    query,
    headers: raw.headers,
    params: match.params,
    body: parseBody(raw),
    principal,
    ip: raw.ip ?? 'unknown',
  });
  return { reply, pattern: match.route.pattern };
}

/** Answers one request: never throws; every failure is an envelope with a stable code. */
export async function handleRequest(router: Router, raw: RawRequest, o: CoreOptions): Promise<RawResponse> {
  const start = performance.now();
  const cors = corsHeaders(o.corsOrigins, raw.headers['origin']);
  if (raw.method === 'OPTIONS' && cors.length > 0) return encode(204, [...cors, ...PREFLIGHT], '');
  let pattern = '(unmatched)';
  let status: number;
  let headers: Array<[string, string]> = [];
  let body: string;
  try {
    const r = await route(router, raw, o.authorize);
    pattern = r.pattern;
    status = r.reply.status;
    headers = Object.entries(r.reply.headers ?? {});
    if (r.reply.text !== undefined) {
      headers.push(['content-type', r.reply.text.contentType]);
      body = r.reply.text.content;
    } else {
      headers.push(['content-type', 'application/json']);
      body = JSON.stringify(r.reply.body);
    }
  } catch (err) {
    const f = failure(err);
    status = f.status;
    if (isOutage(err))
      o.log.debug(
        { path: raw.path, code: (err as HubError).code },
        `request refused during an outage: ${raw.method} ${raw.path}: ${errorMessage(err)}`,
      );
    else if (status >= 500) o.log.error({ err, path: raw.path }, `request failed: ${raw.method} ${raw.path}`);
    else o.log.debug({ path: raw.path, status }, `request refused: ${raw.method} ${raw.path}`);
    const allow = (err as { allow?: unknown }).allow;
    if (typeof allow === 'string') headers.push(['allow', allow]);
    const retryAfter = (err as { retryAfter?: unknown }).retryAfter;
    if (typeof retryAfter === 'number') headers.push(['retry-after', String(retryAfter)]);
    else if (status === 503) headers.push(['retry-after', '1']); // every 503 is retryable: the outage, a full queue, a restarting module
    if (status === 401) headers.push(['www-authenticate', 'Bearer realm="ai-orchestrator-hub"']);
    headers.push(['content-type', 'application/json']);
    body = JSON.stringify(f.body);
  }
  o.onAnswered?.(raw.method, pattern, status, performance.now() - start);
  return encode(status, [...headers, ...cors], body);
}

/** A failure answer for errors raised before routing (e.g. an oversized body). */
export function failureResponse(err: unknown): RawResponse {
  const f = failure(err);
  return encode(f.status, [['content-type', 'application/json']], JSON.stringify(f.body));
}

function encode(status: number, headers: Array<[string, string]>, body: string): RawResponse {
  return {
    status,
    statusLine: `${status} ${STATUS_CODES[status] ?? ''}`,
    headers: [...headers, ...SECURITY_HEADERS],
    body,
  };
}

/** The envelope for a value (re-exported for route modules). */
export { ok };
