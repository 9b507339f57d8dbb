/** /ws with clients we did not write (the ws package, Debian's python3-websockets) and a raw socket that never reads. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { client, type Client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait-for.js';
import { observer } from '../helpers/ws.js';

const LIFECYCLE = ['task.created', 'task.assigned', 'task.started', 'task.completed'];

/** A ws client that records every event it receives. */
function byTask(events: Array<{ type: string; id: string }>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of events) {
    if (!LIFECYCLE.includes(e.type)) continue;
    out.set(e.id, [...(out.get(e.id) ?? []), e.type]);
  }
  return out;
}

/** A raw WebSocket client that subscribes and then never reads: a slow consumer. */
async function stalledClient(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await new Promise<void>((resolve) => socket.once('data', () => resolve()));
  const payload = Buffer.from(JSON.stringify({ type: 'subscribe', topics: ['tasks'] }));
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] ?? 0)));
  socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
  socket.pause();
  return socket;
}

describe('WebSocket /ws', function () {
  this.timeout(90_000);
  let tmp: string;
  let hub: RunningHub;
  let api: Client;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-ws-'));
    hub = await startHub(
      [],
      hubEnv({
        HIVE_DATABASE_DATA_DIR: tmp,
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '4',
        HIVE_WEBSOCKET_MAX_CONNECTIONS: '6',
        HIVE_WEBSOCKET_MAX_BUFFERED_KB: '256',
        HIVE_WEBSOCKET_MAX_MESSAGE_SIZE_MB: '0.01',
        HIVE_WEBSOCKET_HEARTBEAT_INTERVAL: '1',
        HIVE_WEBSOCKET_BROADCAST_INTERVAL_SECONDS: '1',
        HIVE_SERVER_CORS_ORIGINS: 'https://ops.example',
      }),
    );
    api = client(hub.port);
  });

  after(async () => {
    if (hub !== undefined) assert.equal(await hub.stop(), 0);
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it("delivers each task's lifecycle events in order to a ws-package observer", async () => {
    const o = await observer(hub.port, ['tasks']);
    assert.equal(o.events[0].type, 'welcome');
    const ids: string[] = [];
    for (let i = 0; i < 30; i++)
      ids.push((await api.post('/api/tasks', { title: `ws-${i}`, payload: i })).body.data.id);
    await waitFor(() => o.events.filter((e) => e.type === 'task.completed').length >= 30, 20_000, '30 completions');
    const seq = byTask(
      o.events.filter((e) => e.type?.startsWith('task.')).map((e) => ({ type: e.type, id: e.data.id })),
    );
    for (const id of ids) assert.deepEqual(seq.get(id), LIFECYCLE, id);
    const completed = o.events.find((e) => e.type === 'task.completed' && e.data.id === ids[3]);
    assert.equal(completed.data.result, 3);
    assert.ok(!Number.isNaN(Date.parse(completed.timestamp)));
    o.ws.close();
  });

  it("delivers each task's lifecycle events in order to a python3-websockets observer", async () => {
    const py = spawn('/usr/bin/python3', [
      path.join(ROOT, 'test/interop/ws_observer.py'),
      `ws://127.0.0.1:${hub.port}/ws`,
      '20',
    ]);
    let out = '';
    let err = '';
    py.stdout.on('data', (d: Buffer) => (out += d.toString()));
    py.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => py.on('exit', resolve));
    await waitFor(() => out.includes('READY') || err.length > 0, 10_000, 'the python observer');
    assert.equal(err, '');
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await api.post('/api/tasks', { title: `py-${i}` })).body.data.id);
    assert.equal(await exited, 0, err);
    const lines = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    const seq = byTask(lines);
    for (const id of ids) assert.deepEqual(seq.get(id), LIFECYCLE, id);
  });

  it('answers ping with pong, sends heartbeats, hive.status on subscribe, and errors for bad messages', async () => {
    const o = await observer(hub.port, []);
    o.ws.send(JSON.stringify({ type: 'ping' }));
    o.ws.send('not json');
    o.ws.send(JSON.stringify({ type: 'dance' }));
    o.ws.send(JSON.stringify({ type: 'subscribe', topics: ['weather'] }));
    o.ws.send(Buffer.from([1, 2, 3]));
    o.ws.send(JSON.stringify({ type: 'subscribe', topics: ['hive', 'agents', 'metrics'] }));
    await waitFor(
      () =>
        o.events.some((e) => e.type === 'hive.status') &&
        o.events.some((e) => e.type === 'heartbeat') &&
        o.events.some((e) => e.type === 'metrics.update'),
      10_000,
      'hive.status, metrics.update and a heartbeat',
    );
    assert.ok(o.events.some((e) => e.type === 'pong'));
    const errors = o.events.filter((e) => e.type === 'error');
    assert.equal(errors.length, 4);
    for (const e of errors) assert.equal(e.data.code, 'VALIDATION_FAILED');
    assert.match(errors[0].data.message, /malformed message/);
    assert.match(errors[1].data.message, /unknown message type "dance"/);
    assert.match(errors[2].data.message, /^topics: /);
    assert.equal(o.events.find((e) => e.type === 'hive.status').data.metrics.total_agents, 4);
    assert.ok(o.events.find((e) => e.type === 'metrics.update').data.system);
    const a = await api.post('/api/agents', { name: 'watched', capabilities: ['x'] });
    await waitFor(
      () => o.events.some((e) => e.type === 'agent.registered' && e.data.id === a.body.data.id),
      5000,
      'agent.registered',
    );
    await api.post(`/api/agents/${a.body.data.id}/pause`);
    await api.del(`/api/agents/${a.body.data.id}`);
    await waitFor(
      () => o.events.some((e) => e.type === 'agent.removed' && e.data.id === a.body.data.id),
      5000,
      'agent.removed',
    );
    assert.ok(
      o.events.some((e) => e.type === 'agent.state_changed' && e.data.id === a.body.data.id && e.data.paused === true),
    );
    o.ws.close();
  });

  it('closes a connection that sends a message above max_message_size_mb', async () => {
    const o = await observer(hub.port, []);
    o.ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(20_000) }));
    const closed = await o.closed;
    assert.equal(closed.code, 1009);
    assert.match(closed.reason, /above max_message_size_mb/);
  });

  it('refuses connections beyond max_connections with close code 1013 and a reason', async () => {
    const open = [];
    for (let i = 0; i < 6; i++) open.push(await observer(hub.port, []));
    const extra = await observer(hub.port, []);
    const closed = await extra.closed;
    assert.equal(closed.code, 1013);
    assert.match(closed.reason, /max_connections \(6\) reached/);
    const ws = (await api.get('/metrics')).body.data.current_metrics.websocket;
    assert.equal(ws.connections, 6);
    assert.ok(ws.refused_total >= 1);
    for (const o of open) o.ws.close();
    await waitFor(
      async () => (await api.get('/metrics')).body.data.current_metrics.websocket.connections === 0,
      5000,
      'connections to close',
    );
  });

  it('drops a client that does not read, without delaying one that does', async () => {
    const fast = await observer(hub.port, ['tasks']);
    const slow = await stalledClient(hub.port);
    const payload = 'p'.repeat(40_000);
    const ids: string[] = [];
    for (let i = 0; i < 150; i++)
      ids.push((await api.post('/api/tasks', { title: `flood-${i}`, payload })).body.data.id);
    await waitFor(
      () => fast.events.filter((e) => e.type === 'task.completed' && ids.includes(e.data.id)).length === 150,
      30_000,
      'the fast client to see 150 completions',
    );
    const ws = (await api.get('/metrics')).body.data.current_metrics.websocket;
    assert.equal(ws.dropped, 1, 'the stalled client was dropped and counted');
    assert.equal(ws.connections, 1, 'only the fast client is left');
    const seq = byTask(
      fast.events.filter((e) => e.type?.startsWith('task.')).map((e) => ({ type: e.type, id: e.data.id })),
    );
    for (const id of ids) assert.deepEqual(seq.get(id), LIFECYCLE, id);
    slow.destroy();
    fast.ws.close();
  });

  it('a subscriber killed mid-stream is gone, not counted as a slow consumer; the others still get every event', async () => {
    const before = (await api.get('/metrics')).body.data.current_metrics.websocket;
    const live = await observer(hub.port, ['tasks']);
    const doomed = await stalledClient(hub.port);
    doomed.resume(); // it reads, then dies without a close frame
    await api.post('/api/tasks', { title: 'before-kill' });
    doomed.destroy();
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await api.post('/api/tasks', { title: `after-kill-${i}` })).body.data.id);
    await waitFor(
      () => ids.every((id) => live.events.some((e) => e.type === 'task.completed' && e.data.id === id)),
      20_000,
      'the live observer to see every completion',
    );
    const after = (await api.get('/metrics')).body.data.current_metrics.websocket;
    assert.equal(after.dropped, before.dropped, 'a client that vanished is not a slow consumer');
    assert.equal(after.connections, before.connections + 1, 'only the live observer was added');
    live.ws.close();
  });

  it('answers CORS preflights for configured origins only', async () => {
    const allowed = await fetch(`${api.base}/api/tasks`, {
      method: 'OPTIONS',
      headers: { origin: 'https://ops.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://ops.example');
    assert.match(allowed.headers.get('access-control-allow-methods') ?? '', /POST/);
    const other = await fetch(`${api.base}/api/agents`, { headers: { origin: 'https://evil.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const simple = await fetch(`${api.base}/api/agents`, { headers: { origin: 'https://ops.example' } });
    assert.equal(simple.headers.get('access-control-allow-origin'), 'https://ops.example');
  });
});
