import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';

export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

/** Prints the result as JSON and writes it to bench/results/<name>-<timestamp>.json. */
export function emit(name: string, result: Record<string, unknown>): void {
  const out = {
    bench: name,
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, node: process.version },
    ...result,
  };
  const dir = new URL('../results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL(`${name}-${out.at.replace(/[:.]/g, '-')}.json`, dir), `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}
