#!/usr/bin/env node
// `npm test`: type check, lint, then every mocha suite; ends with the plain line
// "N passed, N failed" (type check and lint count as one check each).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

const results = { passed: 0, failed: 0 };

function step(name, cmd, args) {
  console.log(`\n== ${name}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  const ok = r.status === 0;
  results[ok ? 'passed' : 'failed']++;
  console.log(`== ${name}: ${ok ? 'ok' : `FAILED (exit ${r.status})`}`);
}

step('typecheck', 'npx', ['tsc', '--noEmit', '-p', 'tsconfig.json']);
step('typecheck dashboard', 'npx', ['tsc', '--noEmit', '-p', 'dashboard/tsconfig.json']);
step('lint', 'npx', ['eslint', '.']);
step('format', 'npx', ['prettier', '--check', '--log-level', 'warn', '**/*.{ts,tsx,mjs,cjs,js}']);
step('import cycles', 'node', ['scripts/check-cycles.mjs']);
step('sizes', 'node', ['scripts/check-sizes.mjs']);

const statsFile = '.test-results.json';
rmSync(statsFile, { force: true });
console.log('\n== mocha');
const mocha = spawnSync(
  'npx',
  [
    'mocha',
    // A test that leaks a handle (a hub process it failed to stop) must not hold CI until its time limit.
    '--exit',
    '--reporter',
    'scripts/mocha-reporter.cjs',
    'test/unit/**/*.test.ts',
    'test/integration/**/*.test.ts',
    'test/e2e/**/*.test.ts',
    'test/cluster/**/*.test.ts',
    'test/faults/**/*.test.ts',
    'test/fuzz/**/*.test.ts',
    'test/browser/**/*.test.ts',
  ],
  {
    stdio: 'inherit',
    env: { ...process.env, HUB_TEST_STATS: statsFile },
  },
);
let stats;
try {
  stats = JSON.parse(readFileSync(statsFile, 'utf8'));
} catch {
  stats = { passes: 0, failures: 1, pending: 0 };
  console.log(`mocha wrote no results (exit ${mocha.status})`);
}
results.passed += stats.passes;
results.failed += stats.failures + (mocha.status !== 0 && stats.failures === 0 ? 1 : 0);
console.log(`\n${results.passed} passed, ${results.failed} failed, ${stats.pending} skipped`);
process.exit(results.failed === 0 ? 0 : 1);
