/** The package's version (package.json), as the hub reports it. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from './config/index.js';

export const VERSION = (
  JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }
).version;
