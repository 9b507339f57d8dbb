/**
 * Serves one hub stack's router on two transports at once: the uWebSockets.js
 * edge (the hub's) and node:http running the same request core. Prints
 * {"uws": port, "node": port} and serves until killed. Run by bench/http.ts.
 */
import http from 'node:http';
import { HttpEdge } from '../src/edge/http-server.js';
import { handleRequest, failureResponse } from '../src/edge/http-core.js';
import { HubError } from '../src/errors/index.js';
import { createLogger } from '../src/log/logger.js';
import { hubStack } from './lib/hub-stack.js';

const store = process.argv[2] === 'file' ? 'file' : 'memory';
const stack = await hubStack(
  store === 'memory'
    ? { HIVE_DATABASE_DATA_DIR: ':memory:', HIVE_TASKS_MAX_PENDING: '100000000' }
    : { HIVE_TASKS_MAX_PENDING: '100000000' },
);
const log = createLogger({ level: 'error', nodeId: 'bench' });
const core = { log, corsOrigins: [] as string[] };
const max = stack.config.server.max_body_bytes;

const uws = await HttpEdge.listen('127.0.0.1', 0, stack.router, { ...core, maxBodyBytes: max });

const node = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > max) refused = true;
    else chunks.push(c);
  });
  req.on('end', () => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    const answer = refused
      ? Promise.resolve(failureResponse(new HubError('PAYLOAD_TOO_LARGE', 'too large')))
      : handleRequest(
          stack.router,
          {
            method: req.method ?? 'GET',
            path: q < 0 ? url : url.slice(0, q),
            query: q < 0 ? '' : url.slice(q + 1),
            headers,
            body: Buffer.concat(chunks),
          },
          core,
        );
    void answer.then((r) => {
      res.writeHead(r.status, r.headers);
      res.end(r.body);
    });
  });
});
node.keepAliveTimeout = 60_000;
await new Promise<void>((resolve) => node.listen(0, '127.0.0.1', resolve));
const address = node.address();
process.stdout.write(
  `${JSON.stringify({ uws: uws.port, node: typeof address === 'object' && address !== null ? address.port : 0, store })}\n`,
);
process.on('SIGTERM', () => {
  uws.close();
  node.close();
  void stack.close().then(() => process.exit(0));
});
