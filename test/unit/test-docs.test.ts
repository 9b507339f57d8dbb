import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ERROR_CODES } from '../../src/errors/index.js';
import { loadConfig } from '../../src/config/index.js';
import { HubMetrics } from '../../src/metrics/registry.js';
import { buildRouter, type RouterDeps } from '../../src/edge/routes/index.js';
import { TASK_FAILURE_CODES } from '../../src/engine/handler.js';
import { ROOT } from '../helpers/cli.js';

const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

/** The real router; its handlers are never called here, so the hive and store are not needed. */
function routes(): string[] {
  const deps = {
    config: loadConfig({ env: { HIVE_ENV: 'test' } }),
    metrics: new HubMetrics({ defaultMetrics: false }),
    nodeId: 'n',
    version: '0',
    startedAt: new Date(),
  } as unknown as RouterDeps;
  return buildRouter(deps).routes.map((r) => `${r.method} ${r.pattern}`);
}

describe('documentation', () => {
  it('lists every error code with its HTTP status in docs/errors.md', () => {
    const doc = read('docs/errors.md');
    for (const [code, e] of Object.entries(ERROR_CODES)) {
      assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${e.http} \\|`), `docs/errors.md misses ${code}`);
    }
    for (const code of Object.keys(TASK_FAILURE_CODES))
      assert.match(doc, new RegExp(`\\| \`${code}\` \\|`), `docs/errors.md misses task code ${code}`);
  });

  it('documents every route of the router in docs/api.md, and no route that does not exist', () => {
    const doc = read('docs/api.md');
    const documented = [...doc.matchAll(/^### (GET|POST|PATCH|DELETE|PUT) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    const actual = routes();
    assert.deepEqual(
      actual.filter((r) => !documented.includes(r)),
      [],
      'routes missing from docs/api.md',
    );
    assert.deepEqual(
      documented.filter((r) => !actual.includes(r)),
      [],
      'docs/api.md documents routes that do not exist',
    );
    assert.match(doc, /^## WebSocket \/ws$/m);
  });

  it('README shows the two quick-start commands', () => {
    const readme = read('README.md');
    assert.match(readme, /npm ci && npm start/);
    assert.match(readme, /npm ci && npm test/);
  });
});
