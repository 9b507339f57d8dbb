/**
 * Task text to model input: lower-case word tokens; their unigrams, bigrams and
 * character 4-grams hashed (FNV-1a) into HASH_BUCKETS buckets, each bucket weighted by log(1 +
 * count) and the row scaled to unit length. The classifier is a linear model
 * over these sparse features, run in ONNX as a weighted sum of gathered rows
 * (an embedding bag), so a text costs its own tokens, not the bucket count.
 */

export const HASH_BUCKETS = 1 << 15;
/** Most features one text contributes (longer texts keep their first ones). */
export const MAX_FEATURES = 256;
/** Bucket 0 is padding: the model's row 0 is zeros. */
const PAD = 0;

const STOPWORDS = new Set(
  'a an and are as at be by can do for from has have how i if in into is it its me my new next no not now of on or our out please so some than that the their them then there these this those to up us we what when where which who why will with without would you your all any also been being both but each few more most much only other over own same should such too very via just get make use need needs want let'.split(' '),
);

/** Lower-case word tokens: letters and digits (Unicode), apostrophes inside words dropped. */
export function tokenize(text: string): string[] {
  return text.toLowerCase().replace(/['’]/g, '').match(/[\p{L}\p{N}]+(?:[-_][\p{L}\p{N}]+)*/gu) ?? [];
}

/** 32-bit FNV-1a of a string. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function bucket(s: string): number {
  // Buckets 1..HASH_BUCKETS-1; 0 stays the padding row.
  return 1 + (fnv1a(s) % (HASH_BUCKETS - 1));
}

export interface TextFeatures {
  /** Bucket ids, at most MAX_FEATURES, padded with 0 by the batcher. */
  ids: Int32Array;
  /** The weight of each id (unit length over the row). */
  weights: Float32Array;
  tokens: number;
  keywords: string[];
}

/** Features of one text (see the module comment). */
export function textFeatures(text: string): TextFeatures {
  const tokens = tokenize(text);
  const counts = new Map<number, number>();
  const add = (s: string): void => {
    const b = bucket(s);
    const n = counts.get(b);
    if (n === undefined && counts.size >= MAX_FEATURES) return;
    counts.set(b, (n ?? 0) + 1);
  };
  const content = tokens.filter((t) => !STOPWORDS.has(t));
  for (const t of content) add(`u:${t}`);
  for (let i = 1; i < content.length; i++) add(`b:${content[i - 1]}_${content[i]}`);
  // Character 4-grams of each word (with its boundaries) carry what related forms share: analyze, analysis, analytics.
  for (const t of content) {
    const w = `<${t}>`;
    for (let i = 0; i + 4 <= w.length; i++) add(`c:${w.slice(i, i + 4)}`);
  }
  const ids = new Int32Array(counts.size);
  const weights = new Float32Array(counts.size);
  let norm = 0;
  let i = 0;
  for (const [b, n] of counts) {
    ids[i] = b;
    weights[i] = Math.log1p(n);
    norm += weights[i]! * weights[i]!;
    i++;
  }
  norm = Math.sqrt(norm) || 1;
  for (let j = 0; j < weights.length; j++) weights[j]! /= norm;
  return { ids, weights, tokens: tokens.length, keywords: keywords(content) };
}

/** The most frequent content words, longer first on ties; at most 8. */
function keywords(content: readonly string[]): string[] {
  const freq = new Map<string, number>();
  for (const t of content) if (t.length > 2 && !/^\d+$/.test(t)) freq.set(t, (freq.get(t) ?? 0) + 1);
  return [...freq].sort((a, b) => b[1] - a[1] || b[0].length - a[0].length || (a[0] < b[0] ? -1 : 1)).slice(0, 8).map(([t]) => t);
}

/** Rows of features as the classifier's two inputs, [n, width] each, padded with bucket 0. */
export function packFeatures(rows: readonly TextFeatures[]): { ids: Int32Array; weights: Float32Array; width: number } {
  let width = 1;
  for (const r of rows) width = Math.max(width, r.ids.length);
  const ids = new Int32Array(rows.length * width).fill(PAD);
  const weights = new Float32Array(rows.length * width);
  rows.forEach((r, i) => {
    ids.set(r.ids, i * width);
    weights.set(r.weights, i * width);
  });
  return { ids, weights, width };
}
