/** Validation of text-analysis requests (HTTP and gRPC). */
import { asInput, invalid, list, str } from './validate.js';

export const MAX_ANALYZE_CHARS = 10_000;
export const MAX_ANALYZE_BATCH = 1000;

/** {text}: a non-empty string of at most MAX_ANALYZE_CHARS characters. */
export function parseAnalyzeText(body: unknown): string {
  return str(asInput(body, '(body)', ['text']), 'text', { required: true, maxLength: MAX_ANALYZE_CHARS });
}

/** {texts}: 1 to MAX_ANALYZE_BATCH such strings. */
export function parseAnalyzeBatch(body: unknown): string[] {
  const texts = list(asInput(body, '(body)', ['texts']), 'texts', MAX_ANALYZE_BATCH);
  if (texts.length === 0) throw invalid('texts', `expected 1 to ${MAX_ANALYZE_BATCH} texts`);
  return texts.map((t, i) => {
    if (typeof t !== 'string') throw invalid(`texts[${i}]`, `expected a string, got ${t === null ? 'null' : typeof t}`);
    if (t.trim() === '') throw invalid(`texts[${i}]`, 'must not be empty');
    if (t.length > MAX_ANALYZE_CHARS) throw invalid(`texts[${i}]`, `must be at most ${MAX_ANALYZE_CHARS} characters`);
    return t;
  });
}
