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
  const n = scanAscii(text);
  if (n < 0) return tokenizeUnicode(text.toLowerCase());
  const out: string[] = [];
  for (let w = 0; w < n; w++) out.push(text.slice(wordStart[w], wordEnd[w]).toLowerCase());
  return out;
}

/** A character code lower-cased (ASCII letters only). */
function lowerAscii(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

function isAlnum(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
}

// The words scanAscii found: where each starts and ends, and its two hashes (reused by every call).
let wordStart = new Int32Array(256);
let wordEnd = new Int32Array(256);
let wordHash = new Int32Array(256);
let wordHash2 = new Int32Array(256);

function growWords(): void {
  const grow = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
    const b = new Int32Array(a.length * 2);
    b.set(a);
    return b;
  };
  wordStart = grow(wordStart);
  wordEnd = grow(wordEnd);
  wordHash = grow(wordHash);
  wordHash2 = grow(wordHash2);
}

/**
 * The words of an ASCII text without apostrophes (most task text), in one pass:
 * a word is letters and digits, with a hyphen or underscore inside it kept
 * (login-page); each word's bounds and its two hashes of the lower-cased word
 * (FNV-1a, SEED_UNIGRAM and SEED_KEY) go to wordStart/wordEnd/wordHash/wordHash2.
 * Returns how many, or -1 for any other text (the Unicode-aware regex handles it).
 */
function scanAscii(text: string): number {
  let start = -1;
  let n = 0;
  let h = 0;
  let h2 = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? lowerAscii(text.charCodeAt(i)) : 32;
    if (c >= 128 || c === 39) return -1;
    if (isAlnum(c) || (start >= 0 && (c === 45 || c === 95) && isAlnum(lowerAscii(text.charCodeAt(i + 1))))) {
      // (a hyphen or underscore inside a word keeps it whole)
      if (start < 0) {
        start = i;
        h = SEED_UNIGRAM;
        h2 = SEED_KEY;
      }
      h = Math.imul(h ^ c, PRIME);
      h2 = Math.imul(h2 ^ c, PRIME);
    } else if (start >= 0) {
      if (n === wordStart.length) growWords();
      wordStart[n] = start;
      wordEnd[n] = i;
      wordHash[n] = h;
      wordHash2[n] = h2;
      n++;
      start = -1;
    }
  }
  return n;
}

function tokenizeUnicode(lower: string): string[] {
  return lower.replace(/['’]/g, '').match(/[\p{L}\p{N}]+(?:[-_][\p{L}\p{N}]+)*/gu) ?? [];
}

const PRIME = 0x01000193;
const SEED_UNIGRAM = 0x811c9dc5;
const SEED_BIGRAM = 0x1b873593;
const SEED_CHARGRAM = 0x85ebca6b;
/** A second hash of each word: with the unigram hash, the 53-bit key of the word cache and the stopword set. */
const SEED_KEY = 0x27d4eb2f;

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

/** A word's own features: its unigram hash and the buckets of its unigram and character 4-grams (none for a stopword). */
interface WordFeatures {
  word: string;
  hash: number;
  buckets: Int32Array;
  stop: boolean;
}

/**
 * Words repeat across texts (task vocabulary is small): their features are
 * computed once, in an open-addressing table keyed by the word's two 32-bit
 * hashes (no string is built to look a word up, no key is boxed). Stopwords sit
 * in it too, marked. Bounded: cleared when full, stopwords put back.
 */
const TABLE_WORDS_BITS = 17;
const WORD_SLOTS = 1 << TABLE_WORDS_BITS;
const WORD_CACHE_SIZE = 50_000;
const slotHash = new Int32Array(WORD_SLOTS);
const slotHash2 = new Int32Array(WORD_SLOTS);
let slotWord: Array<WordFeatures | undefined> = new Array<WordFeatures | undefined>(WORD_SLOTS);
let wordsHeld = 0;

function slotOf(h: number, h2: number): number {
  let slot = Math.imul(h ^ Math.imul(h2, 0x9e3779b1), 0x85ebca6b) >>> (32 - TABLE_WORDS_BITS);
  while (slotWord[slot] !== undefined && (slotHash[slot] !== h || slotHash2[slot] !== h2))
    slot = (slot + 1) & (WORD_SLOTS - 1);
  return slot;
}

function remember(f: WordFeatures, h: number, h2: number): WordFeatures {
  if (wordsHeld >= WORD_CACHE_SIZE) forgetWords();
  const slot = slotOf(h, h2);
  slotHash[slot] = h;
  slotHash2[slot] = h2;
  slotWord[slot] = f;
  wordsHeld++;
  return f;
}

function forgetWords(): void {
  slotWord = new Array<WordFeatures | undefined>(WORD_SLOTS);
  wordsHeld = 0;
  for (const w of STOPWORDS)
    remember({ word: w, hash: 0, buckets: new Int32Array(0), stop: true }, fnv1a(w, SEED_UNIGRAM), fnv1a(w, SEED_KEY));
}
forgetWords();

/** The word of this text's bounds and hashes: from the table, or computed and remembered. */
function wordAt(text: string, start: number, end: number, h: number, h2: number, lower: boolean): WordFeatures {
  const found = slotWord[slotOf(h, h2)];
  if (found !== undefined) return found;
  const word = lower ? text.slice(start, end) : text.slice(start, end).toLowerCase();
  return remember(wordFeatures(word, h >>> 0), h, h2);
}

function wordFeatures(word: string, hash: number): WordFeatures {
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
  return { word, hash, buckets, stop: false };
}

// Scratch space reused by every call (features are computed synchronously, one text at a time).
const content: WordFeatures[] = [];
let tokenCount = 0;
const scratch = new Int32Array(MAX_FEATURES);
const TABLE_BITS = 10;
const TABLE_SIZE = 1 << TABLE_BITS;
const tableKey = new Int32Array(TABLE_SIZE);
const tableCount = new Int32Array(TABLE_SIZE);
const tableStamp = new Int32Array(TABLE_SIZE);
const slots = new Int32Array(MAX_FEATURES);
let stampNow = 0;

/** The text's content words (stopwords out) into `content`, and its token count into `tokenCount`. */
function scanWords(text: string): void {
  content.length = 0;
  tokenCount = scanAscii(text);
  if (tokenCount >= 0) {
    for (let w = 0; w < tokenCount; w++) {
      const f = wordAt(text, wordStart[w]!, wordEnd[w]!, wordHash[w]!, wordHash2[w]!, false);
      if (!f.stop) content.push(f);
    }
    return;
  }
  const tokens = tokenizeUnicode(text.toLowerCase());
  tokenCount = tokens.length;
  for (const w of tokens) {
    const f = wordAt(w, 0, w.length, fnv1a(w, SEED_UNIGRAM) | 0, fnv1a(w, SEED_KEY) | 0, true);
    if (!f.stop) content.push(f);
  }
}

/**
 * Features of one text (see the module comment) written at `at` in ids and
 * weights; returns how many. Hashes are computed over the characters directly
 * (no n-gram strings are built), then the bucket ids are counted.
 */
function featurizeInto(text: string, ids: Int32Array, weights: Float32Array, at: number): number {
  scanWords(text);
  let n = 0;
  let prev = 0;
  for (let t = 0; t < content.length && n < MAX_FEATURES; t++) {
    const w = content[t]!;
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
  let norm = 0;
  for (let u = 0; u < unique; u++) {
    const slot = slots[u]!;
    const weight = Math.log1p(tableCount[slot]!);
    ids[at + u] = tableKey[slot]!;
    weights[at + u] = weight;
    norm += weight * weight;
  }
  norm = Math.sqrt(norm) || 1;
  for (let u = 0; u < unique; u++) weights[at + u]! /= norm;
  return unique;
}

const oneIds = new Int32Array(MAX_FEATURES);
const oneWeights = new Float32Array(MAX_FEATURES);

/** Features of one text (see the module comment). */
export function textFeatures(text: string, withKeywords = true): TextFeatures {
  const unique = featurizeInto(text, oneIds, oneWeights, 0);
  return {
    ids: oneIds.slice(0, unique),
    weights: oneWeights.slice(0, unique),
    tokens: tokenCount,
    keywords: withKeywords ? keywords(content) : [],
  };
}

/** A batch of texts as the classifier's two inputs, [n, width] each, padded with bucket 0. */
export interface FeatureBatch {
  ids: Int32Array;
  weights: Float32Array;
  width: number;
  tokens: number[];
  keywords: string[][];
}

let batchIds = new Int32Array(0);
let batchWeights = new Float32Array(0);

/**
 * Features of many texts straight into the classifier's inputs: the same
 * features as textFeatures, without an array pair per text or a second copy to
 * pack them (analysis in batches costs the texts' own words, little else).
 */
export function featurizeBatch(texts: readonly string[], withKeywords: boolean): FeatureBatch {
  if (batchIds.length < texts.length * MAX_FEATURES) {
    batchIds = new Int32Array(texts.length * MAX_FEATURES);
    batchWeights = new Float32Array(texts.length * MAX_FEATURES);
  }
  const counts = new Int32Array(texts.length);
  const tokens: number[] = [];
  const words: string[][] = [];
  let width = 1;
  for (let i = 0; i < texts.length; i++) {
    counts[i] = featurizeInto(texts[i]!, batchIds, batchWeights, i * MAX_FEATURES);
    width = Math.max(width, counts[i]!);
    tokens.push(tokenCount);
    words.push(withKeywords ? keywords(content) : []);
  }
  const ids = new Int32Array(texts.length * width);
  const weights = new Float32Array(texts.length * width);
  for (let i = 0; i < texts.length; i++) {
    // Element by element: a subarray view per row would be two allocations per text.
    const from = i * MAX_FEATURES;
    const to = i * width;
    for (let k = 0; k < counts[i]!; k++) {
      ids[to + k] = batchIds[from + k]!;
      weights[to + k] = batchWeights[from + k]!;
    }
  }
  return { ids, weights, width, tokens, keywords: words };
}

/** A 64-bit hash of a text as a short string key (two 32-bit FNV-1a with different seeds, and the length). */
export function textKey(text: string): string {
  return `${text.length.toString(36)}:${fnv1a(text, SEED_UNIGRAM).toString(36)}:${fnv1a(text, SEED_CHARGRAM).toString(36)}`;
}

/** The most frequent content words, longer first on ties, then alphabetical; at most 8. */
function keywords(content: readonly WordFeatures[]): string[] {
  // Texts are short: parallel lists and an insertion sort beat a Map and a sort with a closure here.
  const words: string[] = [];
  const counts: number[] = [];
  for (const { word: t } of content) {
    if (t.length < 3 || isNumber(t)) continue;
    const i = words.indexOf(t);
    if (i >= 0) counts[i]!++;
    else {
      words.push(t);
      counts.push(1);
    }
  }
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    const c = counts[i]!;
    let at = i;
    for (; at > 0; at--) {
      const pw = words[at - 1]!;
      const pc = counts[at - 1]!;
      if (pc > c || (pc === c && (pw.length > w.length || (pw.length === w.length && pw < w)))) break;
      words[at] = pw;
      counts[at] = pc;
    }
    words[at] = w;
    counts[at] = c;
  }
  if (words.length > 8) words.length = 8;
  return words;
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
