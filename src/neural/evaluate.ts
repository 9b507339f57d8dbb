/** Scores of the text classifier on labelled tasks (the held-out split in `npm run eval:models`). */
import { CAPABILITY_LABELS, PRIORITY_LABELS, type LabelledTask } from './dataset.js';

export interface Prediction {
  capabilities: string[];
  priority: string;
}

export interface ClassifierScores {
  examples: number;
  micro_f1: number;
  macro_f1: number;
  /** Share of tasks whose whole capability set is right. */
  exact_match: number;
  per_label: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  priority_accuracy: number;
  /** What always answering the most common priority of the truth would score. */
  priority_majority_baseline: number;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
const f1 = (p: number, r: number): number => (p + r === 0 ? 0 : (2 * p * r) / (p + r));

export function scoreClassifier(truth: readonly LabelledTask[], predicted: readonly Prediction[]): ClassifierScores {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let exact = 0;
  let priorityRight = 0;
  const per: ClassifierScores['per_label'] = {};
  for (const label of CAPABILITY_LABELS) {
    let ltp = 0;
    let lfp = 0;
    let lfn = 0;
    truth.forEach((t, i) => {
      const want = t.capabilities.includes(label);
      const got = predicted[i]!.capabilities.includes(label);
      if (want && got) ltp++;
      else if (got) lfp++;
      else if (want) lfn++;
    });
    tp += ltp;
    fp += lfp;
    fn += lfn;
    const precision = ltp + lfp === 0 ? 0 : ltp / (ltp + lfp);
    const recall = ltp + lfn === 0 ? 0 : ltp / (ltp + lfn);
    per[label] = {
      precision: round(precision),
      recall: round(recall),
      f1: round(f1(precision, recall)),
      support: ltp + lfn,
    };
  }
  truth.forEach((t, i) => {
    const p = predicted[i]!;
    if (p.capabilities.length === t.capabilities.length && t.capabilities.every((c) => p.capabilities.includes(c)))
      exact++;
    if (p.priority === t.priority) priorityRight++;
  });
  const counts = PRIORITY_LABELS.map((p) => truth.filter((t) => t.priority === p).length);
  const withSupport = Object.values(per).filter((x) => x.support > 0);
  const microP = tp + fp === 0 ? 0 : tp / (tp + fp);
  const microR = tp + fn === 0 ? 0 : tp / (tp + fn);
  return {
    examples: truth.length,
    micro_f1: round(f1(microP, microR)),
    macro_f1: round(withSupport.reduce((s, x) => s + x.f1, 0) / Math.max(1, withSupport.length)),
    exact_match: round(exact / Math.max(1, truth.length)),
    per_label: per,
    priority_accuracy: round(priorityRight / Math.max(1, truth.length)),
    priority_majority_baseline: round(Math.max(...counts) / Math.max(1, truth.length)),
  };
}

/**
 * Which capabilities a task needs, from the classifier's probabilities: every
 * one at or above `threshold`, and at least the most likely one when it reaches
 * half the threshold (every task in the data needs at least one).
 */
export function inferredFrom(
  probabilities: ReadonlyArray<{ name: string; probability: number }>,
  threshold: number,
): Array<{ name: string; probability: number }> {
  const sorted = [...probabilities].sort((a, b) => b.probability - a.probability);
  const picked = sorted.filter((c) => c.probability >= threshold);
  if (picked.length === 0 && sorted[0] !== undefined && sorted[0].probability >= threshold / 2) picked.push(sorted[0]);
  return picked;
}
