import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ERROR_CODES } from '../../src/errors/index.js';
import { ROOT } from '../helpers/cli.js';

describe('documentation', () => {
  it('lists every error code with its HTTP status in docs/errors.md', () => {
    const doc = readFileSync(path.join(ROOT, 'docs/errors.md'), 'utf8');
    for (const [code, e] of Object.entries(ERROR_CODES)) {
      assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${e.http} \\|`), `docs/errors.md misses ${code}`);
    }
  });

  it('README shows the two quick-start commands', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    assert.match(readme, /npm ci && npm start/);
    assert.match(readme, /npm ci && npm test/);
  });
});
