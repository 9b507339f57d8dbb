#!/usr/bin/env node
// Fails when the TypeScript sources (src/, actors/, cluster/) import each other in a
// cycle, type-only imports included: a cycle is a layering mistake even when the
// runtime survives it. Prints each cycle found, shortest path first.
import path from 'node:path';
import ts from 'typescript';

// node scripts/check-cycles.mjs [DIR ...]: the folders to check (default src actors cluster).
const roots = process.argv.length > 2 ? process.argv.slice(2) : ['src', 'actors', 'cluster'];
const configPath = ts.findConfigFile(process.cwd(), ts.sys.fileExists, 'tsconfig.json');
const parsed = ts.parseJsonConfigFileContent(
  ts.readConfigFile(configPath, ts.sys.readFile).config,
  ts.sys,
  path.dirname(configPath),
);
const inScope = (f) => roots.some((r) => f.startsWith(path.resolve(r) + path.sep)) && !f.endsWith('.d.ts');
const files = [
  ...new Set(
    [...parsed.fileNames, ...roots.flatMap((r) => ts.sys.readDirectory(path.resolve(r), ['.ts']))].map((f) =>
      path.resolve(f),
    ),
  ),
].filter(inScope);

const edges = new Map();
for (const file of files) {
  const info = ts.preProcessFile(ts.sys.readFile(file), true, true);
  const targets = new Set();
  for (const ref of info.importedFiles) {
    const r = ts.resolveModuleName(ref.fileName, file, parsed.options, ts.sys).resolvedModule;
    if (r && !r.isExternalLibraryImport && inScope(path.resolve(r.resolvedFileName)))
      targets.add(path.resolve(r.resolvedFileName));
  }
  edges.set(file, [...targets]);
}

// Tarjan's strongly connected components: every component of more than one file is a cycle.
let index = 0;
const stack = [];
const meta = new Map();
const components = [];
function connect(v) {
  meta.set(v, { index, low: index, onStack: true });
  index++;
  stack.push(v);
  for (const w of edges.get(v) ?? []) {
    if (!meta.has(w)) {
      connect(w);
      meta.get(v).low = Math.min(meta.get(v).low, meta.get(w).low);
    } else if (meta.get(w).onStack) meta.get(v).low = Math.min(meta.get(v).low, meta.get(w).index);
  }
  if (meta.get(v).low === meta.get(v).index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      meta.get(w).onStack = false;
      component.push(w);
    } while (w !== v);
    if (component.length > 1) components.push(component);
  }
}
for (const f of files) if (!meta.has(f)) connect(f);

const rel = (f) => path.relative(process.cwd(), f);
if (components.length === 0) {
  console.log(`no import cycles among ${files.length} files`);
  process.exit(0);
}
for (const c of components) console.log(`import cycle among ${c.length} files: ${c.map(rel).sort().join(', ')}`);
process.exit(1);
