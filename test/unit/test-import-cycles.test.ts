import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../helpers/cli.js';

describe('import cycle check (scripts/check-cycles.mjs, a step of npm test)', function () {
  this.timeout(60_000);
  it('finds a cycle, type-only imports included, and names its files', () => {
    const r = spawnSync(process.execPath, ['scripts/check-cycles.mjs', 'test/fixtures/cycle'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^import cycle among 2 files: test\/fixtures\/cycle\/a\.ts, test\/fixtures\/cycle\/b\.ts$/m);
  });
  it('finds none in src, actors and cluster', () => {
    const r = spawnSync(process.execPath, ['scripts/check-cycles.mjs'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout);
  });
});
