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
  'a an and are as at be by can do for from has have how i if in into is it its me my new next no not now of on or our out please so some than that the their them then there these this those to up us we what when where which who why will with without would you your all any also been being both but each few more most much only other over own same should such too very via just get make use need needs want let before after while until about'.split(
    ' ',
  ),
);

/** Lower-case word tokens: letters and digits (Unicode), apostrophes inside words dropped. */
export function tokenize(text: string): string[] {
  const lower = text.toLowerCase();
  // ASCII without apostrophes (most task text) is scanned by hand; anything else takes the Unicode-aware regex.
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i <= lower.length; i++) {
    const c = i < lower.length ? lower.charCodeAt(i) : 32;
    if (c >= 128 || c === 39) return tokenizeUnicode(lower);
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) {
      if (start < 0) start = i;
    } else if (start >= 0 && (c === 45 || c === 95) && isAlnum(lower.charCodeAt(i + 1))) {
      // a hyphen or underscore inside a word keeps it whole (login-page)
    } else if (start >= 0) {
      out.push(lower.slice(start, i));
      start = -1;
    }
  }
  return out;
}

function isAlnum(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
}

function tokenizeUnicode(lower: string): string[] {
  return lower.replace(/['’]/g, '').match(/[\p{L}\p{N}]+(?:[-_][\p{L}\p{N}]+)*/gu) ?? [];
}

const PRIME = 0x01000193;
const SEED_UNIGRAM = 0x811c9dc5;
const SEED_BIGRAM = 0x1b873593;
const SEED_CHARGRAM = 0x85ebca6b;

/** 32-bit FNV-1a of a string from a seed (a seed per feature family keeps families apart). */
function fnv1a(s: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), PRIME);
  return h >>> 0;
}

function bucketOf(h: number): number {
  // Buckets 1..HASH_BUCKETS-1; 0 stays the padding row.
  return 1 + ((h >>> 0) % (HASH_BUCKETS - 1));
}

export interface TextFeatures {
  /** Bucket ids, at most MAX_FEATURES, padded with 0 by the batcher. */
  ids: Int32Array;
  /** The weight of each id (unit length over the row). */
  weights: Float32Array;
  tokens: number;
  keywords: string[];
}

// Scratch space reused by every call (features are computed synchronously, one text at a time).
const scratch = new Int32Array(MAX_FEATURES);
const TABLE_BITS = 10;
const TABLE_SIZE = 1 << TABLE_BITS;
const tableKey = new Int32Array(TABLE_SIZE);
const tableCount = new Int32Array(TABLE_SIZE);
const tableStamp = new Int32Array(TABLE_SIZE);
const slots = new Int32Array(MAX_FEATURES);
let stampNow = 0;

/** A word's own features: its unigram hash and the buckets of its unigram and character 4-grams. */
interface WordFeatures {
  hash: number;
  buckets: Int32Array;
}

/** Words repeat across texts (task vocabulary is small): their features are computed once (bounded; cleared when full). */
const WORD_CACHE_SIZE = 50_000;
const wordCache = new Map<string, WordFeatures>();

function wordFeatures(word: string): WordFeatures {
  let f = wordCache.get(word);
  if (f !== undefined) return f;
  const hash = fnv1a(word, SEED_UNIGRAM);
  // Character 4-grams of the word with its boundaries: <word> (what analyze, analysis and analytics share).
  const len = word.length + 2;
  const buckets = new Int32Array(1 + Math.max(0, len - 3));
  buckets[0] = bucketOf(hash);
  for (let i = 0; i + 4 <= len; i++) {
    let g = SEED_CHARGRAM;
    for (let k = i; k < i + 4; k++)
      g = Math.imul(g ^ (k === 0 ? 60 : k === len - 1 ? 62 : word.charCodeAt(k - 1)), PRIME);
    buckets[i + 1] = bucketOf(g);
  }
  f = { hash, buckets };
  if (wordCache.size >= WORD_CACHE_SIZE) wordCache.clear();
  wordCache.set(word, f);
  return f;
}

/**
 * Features of one text (see the module comment). Hashes are computed over the
 * characters directly (no n-gram strings are built), then the bucket ids are
 * sorted and counted.
 */
export function textFeatures(text: string, withKeywords = true): TextFeatures {
  const tokens = tokenize(text);
  const content = tokens.filter((t) => !STOPWORDS.has(t));
  let n = 0;
  let prev = 0;
  for (let t = 0; t < content.length && n < MAX_FEATURES; t++) {
    const w = wordFeatures(content[t]!);
    if (t > 0) scratch[n++] = bucketOf(Math.imul(Math.imul(prev ^ SEED_BIGRAM, PRIME) ^ w.hash, PRIME));
    const take = Math.min(w.buckets.length, MAX_FEATURES - n);
    scratch.set(take === w.buckets.length ? w.buckets : w.buckets.subarray(0, take), n);
    n += take;
    prev = w.hash;
  }
  // Count repeated buckets with a small open-addressing table (stamped per call, so it is never cleared).
  stampNow++;
  let unique = 0;
  for (let i = 0; i < n; i++) {
    const b = scratch[i]!;
    let slot = Math.imul(b, 0x9e3779b1) >>> (32 - TABLE_BITS);
    while (tableStamp[slot] === stampNow && tableKey[slot] !== b) slot = (slot + 1) & (TABLE_SIZE - 1);
    if (tableStamp[slot] === stampNow) tableCount[slot]!++;
    else {
      tableStamp[slot] = stampNow;
      tableKey[slot] = b;
      tableCount[slot] = 1;
      slots[unique++] = slot;
    }
  }
  const ids = new Int32Array(unique);
  const weights = new Float32Array(unique);
  let norm = 0;
  for (let u = 0; u < unique; u++) {
    const slot = slots[u]!;
    ids[u] = tableKey[slot]!;
    weights[u] = Math.log1p(tableCount[slot]!);
    norm += weights[u]! * weights[u]!;
  }
  norm = Math.sqrt(norm) || 1;
  for (let u = 0; u < unique; u++) weights[u]! /= norm;
  return { ids, weights, tokens: tokens.length, keywords: withKeywords ? keywords(content) : [] };
}

/** A 64-bit hash of a text as a short string key (two 32-bit FNV-1a with different seeds, and the length). */
export function textKey(text: string): string {
  return `${text.length.toString(36)}:${fnv1a(text, SEED_UNIGRAM).toString(36)}:${fnv1a(text, SEED_CHARGRAM).toString(36)}`;
}

/** The most frequent content words, longer first on ties; at most 8. */
function keywords(content: readonly string[]): string[] {
  // Texts are short: a linear list beats a Map here.
  const words: string[] = [];
  const counts: number[] = [];
  for (const t of content) {
    if (t.length < 3 || isNumber(t)) continue;
    const i = words.indexOf(t);
    if (i >= 0) counts[i]!++;
    else {
      words.push(t);
      counts.push(1);
    }
  }
  const order = words
    .map((_, i) => i)
    .sort((a, b) => counts[b]! - counts[a]! || words[b]!.length - words[a]!.length || (words[a]! < words[b]! ? -1 : 1));
  return order.slice(0, 8).map((i) => words[i]!);
}

function isNumber(t: string): boolean {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
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
