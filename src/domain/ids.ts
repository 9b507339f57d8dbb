/**
 * Task ids: UUID version 7 (RFC 9562), a 48-bit Unix time in milliseconds, then
 * random bits. New tasks' ids sort after older ones, so the primary-key index
 * takes them at its right edge: a table of millions of tasks keeps inserts,
 * claims and finishes on a few hot index pages instead of a random page each
 * (with random version-4 ids, every new task lands on a page that is likely not
 * in memory once the index outgrows shared_buffers).
 */
import { randomFillSync } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** Random bytes drawn in bulk (one system call per 512 ids). */
const pool = Buffer.alloc(16 * 512);
let used = pool.length;

export function newTaskId(now = Date.now()): string {
  if (used + 10 > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const r = used;
  used += 10;
  // Time: 6 bytes, most significant first (2^48 ms reaches the year 10889).
  const hi = Math.floor(now / 0x1_0000_0000);
  const lo = now >>> 0;
  const h = (b: number): string => HEX[b & 0xff]!;
  return (
    h(hi >>> 8) +
    h(hi) +
    h(lo >>> 24) +
    h(lo >>> 16) +
    '-' +
    h(lo >>> 8) +
    h(lo) +
    '-' +
    h(0x70 | (pool[r]! & 0x0f)) +
    h(pool[r + 1]!) +
    '-' +
    h(0x80 | (pool[r + 2]! & 0x3f)) +
    h(pool[r + 3]!) +
    '-' +
    h(pool[r + 4]!) +
    h(pool[r + 5]!) +
    h(pool[r + 6]!) +
    h(pool[r + 7]!) +
    h(pool[r + 8]!) +
    h(pool[r + 9]!)
  );
}
