/**
 * The web dashboard's static files (built by scripts/build-dashboard.mjs into
 * dist/dashboard, with .br and .gz beside each text file). Hashed asset names are
 * cached for a year; index.html is revalidated. The page's script comes only
 * from this origin (a strict CSP: no inline script or style element).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

interface Asset {
  type: string;
  raw: Buffer;
  br?: Buffer;
  gz?: Buffer;
  immutable: boolean;
}

export interface StaticReply {
  status: number;
  headers: Array<[string, string]>;
  body: Buffer | string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** From the sources (src/edge) and from the build (dist/src/edge). */
const CANDIDATES = [path.resolve(here, '../../dist/dashboard'), path.resolve(here, '../../dashboard')];

/** The CSP of the dashboard's pages: this origin only, and its WebSocket. */
function csp(host: string | undefined): string {
  const ws =
    host !== undefined && /^[\w.-]+(?::\d{1,5})?$|^\[[\da-f:.]+\](?::\d{1,5})?$/i.test(host)
      ? ` ws://${host} wss://${host}`
      : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self'${ws}`,
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function walk(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? walk(full, `${prefix}${name}/`) : [`${prefix}${name}`];
  });
}

export class DashboardAssets {
  private constructor(
    private readonly files: ReadonlyMap<string, Asset>,
    readonly dir: string,
  ) {}

  /** The built dashboard, or undefined when none is built (the hub then answers 503 with how to build it). */
  static load(dir?: string): DashboardAssets | undefined {
    const found = dir ?? CANDIDATES.find((d) => existsSync(path.join(d, 'build.json')));
    if (found === undefined || !existsSync(path.join(found, 'index.html'))) return undefined;
    const files = new Map<string, Asset>();
    for (const name of walk(found)) {
      if (name.endsWith('.br') || name.endsWith('.gz') || name === 'build.json') continue;
      const full = path.join(found, name);
      const read = (ext: string): Buffer | undefined => (existsSync(full + ext) ? readFileSync(full + ext) : undefined);
      const br = read('.br');
      const gz = read('.gz');
      files.set(`/${name}`, {
        type: TYPES[path.extname(name)] ?? 'application/octet-stream',
        raw: readFileSync(full),
        ...(br === undefined ? {} : { br }),
        ...(gz === undefined ? {} : { gz }),
        immutable: name.startsWith('assets/'),
      });
    }
    return new DashboardAssets(files, found);
  }

  /** Answers GET /dashboard/<rest>: a file, or index.html for the page routes (the app routes in the browser). */
  serve(rest: string, acceptEncoding: string, host: string | undefined): StaticReply {
    const file = this.files.get(rest);
    if (file === undefined && (rest.startsWith('/assets/') || path.extname(rest) !== ''))
      return { status: 404, headers: [['content-type', 'text/plain; charset=utf-8']], body: `no such file ${rest}` };
    const asset = file ?? this.files.get('/index.html')!;
    const headers: Array<[string, string]> = [
      ['content-type', asset.type],
      ['cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache'],
      ['vary', 'Accept-Encoding'],
      ['x-content-type-options', 'nosniff'],
      ['referrer-policy', 'no-referrer'],
      ['x-frame-options', 'DENY'],
    ];
    if (asset.type.startsWith('text/html')) headers.push(['content-security-policy', csp(host)]);
    const accepts = (enc: string): boolean => new RegExp(`\\b${enc}\\b`).test(acceptEncoding);
    if (asset.br !== undefined && accepts('br')) return encoded(headers, 'br', asset.br);
    if (asset.gz !== undefined && accepts('gzip')) return encoded(headers, 'gzip', asset.gz);
    return { status: 200, headers, body: asset.raw };
  }
}

function encoded(headers: Array<[string, string]>, encoding: string, body: Buffer): StaticReply {
  return { status: 200, headers: [...headers, ['content-encoding', encoding]], body };
}

/** What /dashboard answers when no build is there. */
export const NOT_BUILT: StaticReply = {
  status: 503,
  headers: [
    ['content-type', 'text/plain; charset=utf-8'],
    ['cache-control', 'no-store'],
  ],
  body: 'The dashboard is not built here: run `npm run build:dashboard` (npm start does it) and restart the hub.\n',
};
