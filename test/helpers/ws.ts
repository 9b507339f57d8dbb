/** A WebSocket observer of the hub's /ws: every message it receives, parsed. */
import WebSocket from 'ws';
import { waitFor } from './wait-for.js';

export async function observer(
  port: number,
  topics: string[],
): Promise<{ ws: WebSocket; events: any[]; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const events: any[] = [];
  ws.on('message', (data) => events.push(JSON.parse((data as Buffer).toString('utf8'))));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  if (topics.length > 0) {
    ws.send(JSON.stringify({ type: 'subscribe', topics }));
    await waitFor(() => events.some((e) => e.type === 'subscribed'), 5000, 'the subscription');
  }
  return { ws, events, closed };
}
