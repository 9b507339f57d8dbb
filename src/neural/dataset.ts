/**
 * The shipped training data (models/data) and its fixed split. A description is
 * held out when the hash of its text falls in the last fifth, so the split is
 * the same on every machine and no text is on both sides.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../config/index.js';

export const CAPABILITY_LABELS = [
  'code',
  'data-analysis',
  'research',
  'writing',
  'math',
  'translation',
  'operations',
] as const;
export const PRIORITY_LABELS = ['low', 'medium', 'high', 'critical'] as const;

export const MODELS_DIR = path.join(packageRoot(), 'models');

export interface LabelledTask {
  text: string;
  capabilities: string[];
  priority: string;
}

/** models/data/tasks.tsv: `capabilities|priority|text`, # comments. */
export function loadTaskDataset(file = path.join(MODELS_DIR, 'data', 'tasks.tsv')): LabelledTask[] {
  const out: LabelledTask[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '' || line.startsWith('#')) return;
      const [caps, priority, ...rest] = line.split('|');
      const text = rest.join('|').trim();
      const capabilities = (caps ?? '')
        .split(',')
        .map((c) => c.trim())
        .filter((c) => c !== '');
      const unknown = capabilities.find((c) => !(CAPABILITY_LABELS as readonly string[]).includes(c));
      if (text === '' || unknown !== undefined || !(PRIORITY_LABELS as readonly string[]).includes(priority ?? '')) {
        throw new Error(
          `${file}:${i + 1}: expected capabilities|priority|text with known labels, got ${JSON.stringify(line.slice(0, 80))}`,
        );
      }
      out.push({ text, capabilities, priority: priority! });
    });
  return out;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The fixed 80/20 split by text hash. */
export function splitDataset<T extends { text: string }>(rows: readonly T[]): { train: T[]; heldOut: T[] } {
  const train: T[] = [];
  const heldOut: T[] = [];
  for (const r of rows) (hash(r.text) % 5 === 4 ? heldOut : train).push(r);
  return { train, heldOut };
}
