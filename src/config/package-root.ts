import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding package.json and settings/, from src/ (tsx) or dist/src/ (built) alike. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) || !existsSync(path.join(dir, 'settings'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the package root (package.json and settings/)');
    dir = up;
  }
  return dir;
}
