/** `npm run bench -- <name> [options]`: runs bench/<name>.ts; each writes its JSON to bench/results/. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [name, ...rest] = process.argv.slice(2);
const known = [
  'throughput',
  'latency',
  'backlog',
  'http',
  'remote-agents',
  'cluster',
  'neural',
  'assignment-quality',
  'security',
  'workflows',
  'dashboard',
  'idle',
  'ws-fanout',
];
if (name === undefined || !known.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${known.join('|')}> [options]\n`);
  process.exit(2);
}
const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
if (!existsSync(file)) process.exit(2);
const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
