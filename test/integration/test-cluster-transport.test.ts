/** The node transport between two real gRPC servers: tell, ask, remote refs, failures, backpressure, reconnection. */
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { NodeTransport } from '../../cluster/transport.js';
import { exposeActor, remoteRef } from '../../cluster/remote-ref.js';
import { HubError } from '../../src/errors/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import { memoryLogger } from '../helpers/logs.js';
import { testSystem } from '../helpers/runtime.js';
import { waitFor } from '../helpers/wait-for.js';

interface Peer {
  transport: NodeTransport;
  server: grpc.Server;
  port: number;
}

async function listen(transport: NodeTransport, port = 0): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  const s = transport.service();
  server.addService(s.definition, s.implementation);
  const bound = await new Promise<number>((res, rej) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return { server, port: bound };
}

async function peer(
  nodeId: string,
  o: { queueMax?: number; queueMaxBytes?: number; askTimeoutMs?: number; clusterKey?: string } = {},
): Promise<Peer> {
  const transport = new NodeTransport({
    nodeId,
    log: memoryLogger().log,
    batchMax: 100,
    queueMax: o.queueMax ?? 10_000,
    queueMaxBytes: o.queueMaxBytes ?? 64 << 20,
    askTimeoutMs: o.askTimeoutMs ?? 2000,
    maxMessageBytes: 4 << 20,
    keepaliveMs: 10_000,
    clusterKey: o.clusterKey,
  });
  return { transport, ...(await listen(transport)) };
}

const addr = (id: string, p: Peer) => ({ node_id: id, address: '127.0.0.1', grpc_port: p.port });

function link(a: Peer, b: Peer): void {
  a.transport.setPeers([addr('a', a), addr('b', b)]);
  b.transport.setPeers([addr('a', a), addr('b', b)]);
}

describe('cluster transport', function () {
  this.timeout(30_000);
  let a: Peer;
  let b: Peer;

  beforeEach(async () => {
    a = await peer('a');
    b = await peer('b');
  });

  afterEach(() => {
    for (const p of [a, b]) {
      p.transport.close();
      p.server.forceShutdown();
    }
  });

  it('links a pair over one stream (the first id dials) and carries tells and asks both ways, batched', async () => {
    const seenOnB: unknown[] = [];
    b.transport.expose('log', (payload, ctx) => void seenOnB.push([payload, ctx.sender]));
    b.transport.expose('double', (payload) => (payload as number) * 2);
    a.transport.expose('echo', (payload) => ({ echoed: payload }));
    link(a, b);
    await waitFor(
      () => a.transport.connectedPeers().includes('b') && b.transport.connectedPeers().includes('a'),
      5000,
      'the link',
    );
    for (let i = 0; i < 500; i++) a.transport.tell('b', 'log', i);
    assert.equal(await a.transport.ask<number>('b', 'double', 21), 42);
    assert.deepEqual(
      await b.transport.ask('a', 'echo', 'hi'),
      { echoed: 'hi' },
      'the accepting side asks back on the same stream',
    );
    await waitFor(() => seenOnB.length === 500, 5000, 'every tell');
    assert.deepEqual(
      seenOnB.slice(0, 2),
      [
        [0, 'a'],
        [1, 'a'],
      ],
      'in order, with the sender',
    );
    const stats = a.transport.stats().peers[0]!;
    assert.ok(stats.batches_sent < stats.sent, `batched: ${stats.sent} envelopes in ${stats.batches_sent} batches`);
  });

  it('answers an ask with the remote HubError (code kept), NOT_FOUND for an unknown target, and ACTOR_TIMEOUT when no answer comes', async () => {
    b.transport.expose('fails', () => {
      throw new HubError('TASK_NOT_FOUND', 'no task x', { details: { id: 'x' } });
    });
    b.transport.expose('never', () => new Promise(() => undefined));
    link(a, b);
    await waitFor(() => a.transport.connectedPeers().includes('b'), 5000, 'the link');
    await assert.rejects(
      a.transport.ask('b', 'fails', {}),
      (e: HubError) => e.code === 'TASK_NOT_FOUND' && e.details?.['id'] === 'x',
    );
    await assert.rejects(a.transport.ask('b', 'nothing-here', {}), (e: HubError) => e.code === 'NOT_FOUND');
    await assert.rejects(a.transport.ask('b', 'never', {}, 200), (e: HubError) => e.code === 'ACTOR_TIMEOUT');
    assert.throws(
      () => a.transport.tell('z', 'x', 1),
      (e: HubError) => e.code === 'NODE_UNREACHABLE',
    );
  });

  it('gives remote actor refs the local ask/tell shape (a real actor answers on the other node)', async () => {
    const { system } = testSystem();
    type Msg = { type: 'add'; n: number } | { type: 'get'; replyTo: ReplyTo<number> };
    const counter = system.spawn<Msg, number>({
      name: 'counter',
      init: () => 0,
      receive: (total, msg) => {
        if (msg.type === 'add') return total + msg.n;
        msg.replyTo.ok(total);
        return total;
      },
    });
    exposeActor(
      b.transport,
      system,
      'counter',
      counter,
      (m): m is { type: 'add'; n: number } | { type: 'get' } =>
        typeof m === 'object' && m !== null && ['add', 'get'].includes((m as { type: string }).type),
    );
    link(a, b);
    await waitFor(() => a.transport.connectedPeers().includes('b'), 5000, 'the link');
    const ref = remoteRef<Msg>(a.transport, 'b', 'counter');
    ref.tell({ type: 'add', n: 5 });
    ref.tell({ type: 'add', n: 7 });
    assert.equal(await ref.ask<number>((replyTo) => ({ type: 'get', replyTo })), 12);
    await assert.rejects(a.transport.ask('b', 'counter', { type: 'drop-tables' }), /does not take this message/);
    await system.shutdown();
  });

  it('pushes back with QUEUE_FULL when a peer cannot take more, and fails asks at once when the link breaks', async () => {
    const slow = await peer('s', { queueMax: 50 });
    slow.transport.setPeers([addr('s', slow), { node_id: 't', address: '127.0.0.1', grpc_port: 1 }]); // nobody listens on port 1
    for (let i = 0; i < 50; i++) slow.transport.tell('t', 'x', i);
    assert.throws(
      () => slow.transport.tell('t', 'x', 51),
      (e: HubError) => e.code === 'QUEUE_FULL',
    );
    slow.transport.close();
    slow.server.forceShutdown();

    // Bounded in bytes too: 40 KB payloads toward a peer that takes nothing stop at the byte bound.
    const heavy = await peer('h', { queueMaxBytes: 1 << 20 });
    heavy.transport.setPeers([addr('h', heavy), { node_id: 't', address: '127.0.0.1', grpc_port: 1 }]);
    const big = 'p'.repeat(40_000);
    let accepted = 0;
    assert.throws(
      () => {
        for (;;) {
          heavy.transport.tell('t', 'x', big);
          accepted++;
        }
      },
      (e: HubError) => e.code === 'QUEUE_FULL' && (e.details?.['queued_bytes'] as number) <= 1 << 20,
    );
    assert.ok(accepted >= 20 && accepted <= 27, `${accepted} envelopes of 40 KB fit in 1 MiB`);
    heavy.transport.close();
    heavy.server.forceShutdown();

    b.transport.expose('never', () => new Promise(() => undefined));
    link(a, b);
    await waitFor(() => a.transport.connectedPeers().includes('b'), 5000, 'the link');
    const pending = a.transport.ask('b', 'never', {}, 10_000);
    await new Promise((r) => setTimeout(r, 50));
    b.server.forceShutdown();
    await assert.rejects(pending, (e: HubError) => e.code === 'NODE_UNREACHABLE');
  });

  it('with security on, links only nodes that present the same cluster key', async () => {
    const x = await peer('x', { clusterKey: 'k1' });
    const y = await peer('y', { clusterKey: 'k2' });
    const z = await peer('z', { clusterKey: 'k1' });
    try {
      x.transport.setPeers([addr('x', x), addr('y', y), addr('z', z)]);
      y.transport.setPeers([addr('x', x), addr('y', y)]);
      z.transport.setPeers([addr('x', x), addr('z', z)]);
      await waitFor(() => x.transport.connectedPeers().includes('z'), 5000, 'x and z to link');
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(!x.transport.connectedPeers().includes('y'), 'y has another key: refused');
      assert.ok(x.transport.stats().peers.find((p) => p.node_id === 'y')!.reconnects >= 1);
    } finally {
      for (const p of [x, y, z]) {
        p.transport.close();
        p.server.forceShutdown();
      }
    }
  });

  it('dials again with backoff after the peer comes back on its port, and forgets peers that left', async () => {
    let got = 0;
    b.transport.expose('ping', () => ++got);
    link(a, b);
    await waitFor(() => a.transport.connectedPeers().includes('b'), 5000, 'the link');
    assert.equal(await a.transport.ask('b', 'ping', null), 1);
    b.server.forceShutdown();
    await waitFor(() => !a.transport.connectedPeers().includes('b'), 5000, 'the break to be seen');
    b.server = (await listen(b.transport, b.port)).server;
    await waitFor(() => a.transport.connectedPeers().includes('b'), 10_000, 'the link to come back');
    assert.equal(await a.transport.ask('b', 'ping', null), 2);
    assert.ok(a.transport.stats().peers[0]!.reconnects >= 1);
    a.transport.setPeers([addr('a', a)]);
    assert.deepEqual(a.transport.connectedPeers(), []);
    assert.throws(
      () => a.transport.tell('b', 'ping', null),
      (e: HubError) => e.code === 'NODE_UNREACHABLE',
    );
  });
});
