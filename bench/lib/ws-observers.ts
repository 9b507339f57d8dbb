/**
 * The observers of bench/ws-fanout.ts, in a process of their own: N raw
 * WebSocket clients (handshake, one subscribe to `tasks`, then frames counted by
 * their headers, never parsed as JSON, so that the clients cost as little as
 * possible and the server is what is measured). Every 64th event frame of each
 * client is read for its sent_at, which gives the delivery latency. Reports
 * over IPC: {ready} once every client has its greeting frames, then every 10 ms
 * {min, latencies}: the fewest events any client has received so far.
 *
 *   fork('bench/lib/ws-observers.ts', [port, observers, greetingFrames])
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';

const [port, observers, greetings] = process.argv.slice(2).map(Number) as [number, number, number];
const SAMPLE_EVERY = 64;
const latencies: number[] = [];

interface Client {
  frames: number;
  /** Bytes of the frame being read that are still to come (its payload spans chunks). */
  rest: number;
  /** A header cut by the end of a chunk, kept for the next one. */
  carry: Buffer | undefined;
}

const clients: Client[] = [];

function subscribeFrame(): Buffer {
  const payload = Buffer.from(JSON.stringify({ type: 'subscribe', topics: ['tasks'] }));
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] ?? 0)));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

/** The sent_at of an event frame's text (performance.timeOrigin + performance.now() at the publisher). */
function sentAt(buf: Buffer, start: number, end: number): number | undefined {
  const text = buf.toString('latin1', start, end);
  const i = text.indexOf('"sent_at":');
  return i < 0 ? undefined : Number.parseFloat(text.slice(i + 10, i + 30));
}

/** Counts the frames in a chunk; a frame's header is at most 10 bytes here (server frames are not masked). */
function onData(c: Client, chunk: Buffer): void {
  const buf = c.carry === undefined ? chunk : Buffer.concat([c.carry, chunk]);
  c.carry = undefined;
  let at = Math.min(c.rest, buf.length);
  c.rest -= at;
  while (at < buf.length) {
    if (buf.length - at < 2) break;
    const len7 = (buf[at + 1] ?? 0) & 0x7f;
    const head = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
    if (buf.length - at < head) break;
    const len = len7 === 126 ? buf.readUInt16BE(at + 2) : len7 === 127 ? Number(buf.readBigUInt64BE(at + 2)) : len7;
    c.frames++;
    const start = at + head;
    if (c.frames > greetings && c.frames % SAMPLE_EVERY === 0 && start + len <= buf.length) {
      const t = sentAt(buf, start, start + len);
      if (t !== undefined) latencies.push(performance.timeOrigin + performance.now() - t);
    }
    const end = start + len;
    if (end > buf.length) {
      c.rest = end - buf.length;
      at = buf.length;
      break;
    }
    at = end;
  }
  if (at < buf.length) c.carry = buf.subarray(at);
}

async function connect(): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  socket.setNoDelay(true);
  socket.write(
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const c: Client = { frames: 0, rest: 0, carry: undefined };
  await new Promise<void>((resolve) => {
    let head = '';
    const onHead = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onHead);
      socket.on('data', (d: Buffer) => onData(c, d));
      const after = Buffer.from(head.slice(end + 4), 'latin1');
      if (after.length > 0) onData(c, after);
      resolve();
    };
    socket.on('data', onHead);
  });
  socket.write(subscribeFrame());
  clients.push(c);
}

for (let i = 0; i < observers; i += 50)
  await Promise.all(Array.from({ length: Math.min(50, observers - i) }, () => connect()));
const ready = setInterval(() => {
  if (clients.every((c) => c.frames >= greetings)) {
    clearInterval(ready);
    process.send?.({ ready: true });
    setInterval(() => {
      let min = Number.POSITIVE_INFINITY;
      for (const c of clients) min = Math.min(min, c.frames - greetings);
      process.send?.({ min, latencies: latencies.splice(0) });
    }, 10);
  }
}, 10);
process.on('disconnect', () => process.exit(0));
