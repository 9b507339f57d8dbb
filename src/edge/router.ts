/** Routes by method and path pattern (`/api/agents/:id`); static segments win over parameters. */
import { HubError } from '../errors/index.js';
import type { Principal } from '../auth/service.js';

export interface EdgeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Readonly<Record<string, string>>;
  params: Readonly<Record<string, string>>;
  /** The parsed JSON body; undefined when the request had none. */
  body: unknown;
  /** Who asks (the anonymous admin when security is disabled). */
  principal: Principal;
  ip: string;
}

export interface EdgeResponse {
  status: number;
  /** Encoded as the JSON envelope unless `text` is set. */
  body?: unknown;
  /** A non-JSON body (e.g. Prometheus text) with its content type. */
  text?: { contentType: string; content: string };
  headers?: Readonly<Record<string, string>>;
}

export type RouteHandler = (req: EdgeRequest) => Promise<EdgeResponse>;

export interface Route {
  method: string;
  pattern: string;
  handler: RouteHandler;
  /** What the route does, one line (listed by the docs test and shown in 405 answers). */
  summary: string;
  /** Whether the handler reads (and validates) a query string; other routes refuse one. */
  query: boolean;
}

interface Compiled extends Route {
  segments: string[];
  params: number;
}

export type Match = { route: Route; params: Record<string, string> } | { allowed: string[] } | undefined;

export class Router {
  private readonly compiled: Compiled[] = [];

  add(
    method: string,
    pattern: string,
    summary: string,
    handler: RouteHandler,
    options: { query?: boolean } = {},
  ): this {
    const segments = pattern.split('/').slice(1);
    if (this.compiled.some((r) => r.method === method && r.pattern === pattern))
      throw new Error(`route ${method} ${pattern} added twice`);
    this.compiled.push({
      method,
      pattern,
      handler,
      summary,
      query: options.query === true,
      segments,
      params: segments.filter((s) => s.startsWith(':')).length,
    });
    this.compiled.sort((a, b) => a.params - b.params);
    return this;
  }

  get routes(): readonly Route[] {
    return this.compiled;
  }

  /** The route for method and path; `{allowed}` when the path exists for other methods only. */
  match(method: string, path: string): Match {
    const parts = path.split('/').slice(1);
    const allowed: string[] = [];
    for (const r of this.compiled) {
      const params = matchSegments(r.segments, parts);
      if (params === undefined) continue;
      if (r.method === method) return { route: r, params };
      if (!allowed.includes(r.method)) allowed.push(r.method);
    }
    return allowed.length > 0 ? { allowed } : undefined;
  }
}

function matchSegments(segments: readonly string[], parts: readonly string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] ?? '';
    const part = parts[i] ?? '';
    if (seg.startsWith(':')) {
      if (part === '') return undefined;
      try {
        params[seg.slice(1)] = decodeURIComponent(part);
      } catch {
        throw new HubError('VALIDATION_FAILED', `${seg.slice(1)}: malformed percent-encoding in the path`, {
          details: { field: seg.slice(1) },
        });
      }
    } else if (seg !== part) {
      return undefined;
    }
  }
  return params;
}
