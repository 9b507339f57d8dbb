#!/usr/bin/env node
/**
 * House style: no source file over 400 lines and no function over 60 lines
 * unless a comment says why. A file says it in a line comment starting
 * `size:` in its first 20 lines; a function in a line comment starting
 * `size:` on one of the 3 lines above it. Prints what breaks the rule and
 * exits 1, or prints the counts and exits 0.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
// The folders to check (relative to the package); by default the code: src, actors, cluster, the dashboard.
const DIRS = process.argv.length > 2 ? process.argv.slice(2) : ['src', 'actors', 'cluster', 'dashboard/src'];
const MAX_FILE = 400;
const MAX_FUNCTION = 60;

function files(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.tsx?$/.test(p) && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const says = (lines, from, to) => lines.slice(Math.max(0, from), to).some((l) => /\/\/\s*size:/.test(l));

function functionName(node) {
  if (node.name !== undefined) return node.name.getText();
  const p = node.parent;
  if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) return p.name.getText();
  return '(anonymous)';
}

const problems = [];
const long = [];
let fileCount = 0;
for (const file of DIRS.flatMap((d) => files(path.join(ROOT, d)))) {
  fileCount++;
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const rel = path.relative(ROOT, file);
  if (lines.length > MAX_FILE && !says(lines, 0, 20)) problems.push(`${rel}: ${lines.length} lines (over ${MAX_FILE})`);
  const kind = file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const n = end - start + 1;
      if (n > MAX_FUNCTION) {
        const where = `${rel}:${start + 1} ${functionName(node)}: ${n} lines`;
        long.push(where);
        if (!says(lines, start - 3, start + 1)) problems.push(`${where} (over ${MAX_FUNCTION})`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}
if (problems.length > 0) {
  console.log(`over the size limits without a \`// size:\` comment saying why:\n${problems.join('\n')}`);
  process.exit(1);
}
console.log(
  `sizes: ${fileCount} files, none over ${MAX_FILE} lines unexplained; ${long.length} functions over ${MAX_FUNCTION} lines, each with its reason`,
);
