#!/usr/bin/env node
// Runs the compiled CLI when it has been built (npm run build); otherwise the
// TypeScript sources through tsx, so a fresh checkout works without a build.
import { existsSync } from 'node:fs';

const dist = new URL('../dist/src/main.js', import.meta.url);
if (existsSync(dist)) {
  await import(dist.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/main.ts', import.meta.url).href);
}
