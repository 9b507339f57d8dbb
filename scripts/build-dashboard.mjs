#!/usr/bin/env node
// Builds the web dashboard (dashboard/ → dist/dashboard) with Vite, and writes a .br and a .gz
// beside each text file so the hub serves them without compressing per request. Skips the
// build when dist/dashboard/build.json records the same sources (npm start runs this first).
// `--force` builds anyway. Prints one JSON line: the files and the first load's gzip bytes.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const src = path.join(root, 'dashboard');
const out = path.join(root, 'dist', 'dashboard');

function files(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => (statSync(path.join(dir, n)).isDirectory() ? files(path.join(dir, n)) : [path.join(dir, n)]));
}

function sourceHash() {
  const h = createHash('sha256');
  for (const f of [...files(src), path.join(root, 'package-lock.json')]) h.update(f).update(readFileSync(f));
  return h.digest('hex').slice(0, 16);
}

const hash = sourceHash();
const recorded = path.join(out, 'build.json');
if (!process.argv.includes('--force') && existsSync(recorded)) {
  const before = JSON.parse(readFileSync(recorded, 'utf8'));
  if (before.sources === hash) {
    console.log(`dashboard: up to date (${before.first_load_gzip_bytes} bytes gzip first load)`);
    process.exit(0);
  }
}

let vite;
try {
  vite = await import('vite');
} catch {
  console.log('dashboard: vite is not installed (npm ci installs it); /dashboard will answer 503');
  process.exit(0);
}
await vite.build({ configFile: path.join(src, 'vite.config.mjs'), logLevel: 'warn' });

const report = {};
for (const f of files(out)) {
  if (/\.(br|gz)$/.test(f) || f === recorded) continue;
  const raw = readFileSync(f);
  const entry = { bytes: raw.length };
  if (/\.(html|js|css|svg|json|txt)$/.test(f)) {
    const gz = gzipSync(raw, { level: 9 });
    const br = brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
    writeFileSync(`${f}.gz`, gz);
    writeFileSync(`${f}.br`, br);
    Object.assign(entry, { gzip: gz.length, br: br.length });
  }
  report[path.relative(out, f)] = entry;
}
// The first load: index.html and what it links (the entry script and its CSS); the rest loads on demand.
const html = readFileSync(path.join(out, 'index.html'), 'utf8');
const linked = [...html.matchAll(/(?:src|href)="\/dashboard\/([^"]+)"/g)].map((m) => m[1]);
const firstLoad = ['index.html', ...linked].reduce((n, f) => n + (report[f]?.gzip ?? report[f]?.bytes ?? 0), 0);
const build = { sources: hash, built_at: new Date().toISOString(), first_load_gzip_bytes: firstLoad, files: report };
writeFileSync(recorded, JSON.stringify(build, null, 2));
console.log(JSON.stringify({ dashboard: 'built', first_load_gzip_bytes: firstLoad, files: report }));
