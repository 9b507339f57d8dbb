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

describe('size check (scripts/check-sizes.mjs, a step of npm test)', function () {
  this.timeout(60_000);
  const run = (...dirs: string[]) =>
    spawnSync(process.execPath, ['scripts/check-sizes.mjs', ...dirs], { cwd: ROOT, encoding: 'utf8' });
  it('names a function over 60 lines that does not say why', () => {
    const r = run('test/fixtures/sizes/long');
    assert.equal(r.status, 1);
    assert.match(r.stdout, /test\/fixtures\/sizes\/long\/long\.ts:2 long: 66 lines \(over 60\)/);
  });
  it('accepts one whose `// size:` comment says why', () => {
    assert.equal(run('test/fixtures/sizes/explained').status, 0);
  });
  it('finds nothing unexplained in src, actors and cluster', () => {
    const r = run();
    assert.equal(r.status, 0, r.stdout);
  });
});
