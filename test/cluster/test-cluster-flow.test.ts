/**
 * Flow limits hold across a cluster: three node processes on one PostgreSQL,
 * 20 agent slots between them. A key limited to 3 never has more than 3 tasks
 * running at once on all nodes together, while another key's tasks run; a
 * key's rate of 50/s is the cluster's rate, not each node's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';
import { clusterDb, startNode, type NodeProc } from '../helpers/cluster.js';
import { waitFor } from '../helpers/wait-for.js';
import { maxOverlap } from '../helpers/spans.js';

const CONFIG = `
[flow.concurrency."k:*"]
limit = 3
[flow.rate."rated"]
limit = 50
window_ms = 1000
burst = 5
`;

interface Row {
  id: string;
  status: string;
  started_at: Date | null;
  completed_at: Date | null;
  node_id: string | null;
}

describe('cluster: flow limits across three nodes', function () {
  this.timeout(180_000);
  let tdb: TestDatabase;
  let db: ReturnType<typeof clusterDb>;
  let tmp: string;
  const nodes: NodeProc[] = [];

  before(async function () {
    await requirePostgres(this);
    tdb = await createTestDatabase();
    db = clusterDb(tdb.url);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-cluster-flow-'));
    const file = path.join(tmp, 'flow.toml');
    writeFileSync(file, CONFIG);
    for (const id of ['f1', 'f2', 'f3'])
      nodes.push(await startNode(tdb.url, id, { HIVE_AGENTS_DEFAULT_POOL_SIZE: '0' }, ['--config', file]));
    // 20 slots: 8 on f1, 6 on f2, 6 on f3.
    for (const [i, slots] of [4, 3, 3].entries())
      for (let a = 0; a < 2; a++) {
        const r = await nodes[i]!.api.post('/api/agents', {
          name: `w${i}-${a}`,
          executor: 'sleep',
          max_concurrency: slots,
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
    await waitFor(
      async () =>
        (await nodes[0]!.api.get('/api/hive/status')).body.data.nodes.filter((n: any) => n.reachable).length === 3,
      20_000,
      'three reachable nodes',
    );
  });

  after(async () => {
    for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
    await db?.close();
    await tdb?.drop();
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  const submit = async (node: NodeProc, items: Array<Record<string, unknown>>): Promise<string[]> => {
    const r = await node.api.post('/api/tasks/bulk', { tasks: items });
    assert.equal(r.status, 201, JSON.stringify(r.body).slice(0, 300));
    return (r.body.data.tasks as Array<Record<string, any>>).map((t) => t['task']?.id ?? t['id']);
  };
  const rows = (ids: string[]): Promise<Row[]> =>
    db.query<Row>(
      `SELECT t.id, t.status, t.started_at, t.completed_at, a.node_id FROM tasks t LEFT JOIN agents a ON a.id = t.assigned_agent
       WHERE t.id = ANY($1::uuid[])`,
      [ids],
    );
  const done = (ids: string[], what: string, ms: number): Promise<Row[]> =>
    waitFor(
      async () => {
        const r = await rows(ids);
        return r.every((t) => t.status === 'completed') ? r : undefined;
      },
      ms,
      what,
    ) as Promise<Row[]>;

  it('a key limited to 3 never has more than 3 running on all nodes together; other keys run meanwhile', async () => {
    const held = await submit(
      nodes[0]!,
      Array.from({ length: 100 }, (_, i) => ({ title: `k${i}`, concurrency_key: 'k:a', payload: { ms: 60 } })),
    );
    const free = await submit(
      nodes[1]!,
      Array.from({ length: 100 }, (_, i) => ({ title: `o${i}`, concurrency_key: 'other', payload: { ms: 60 } })),
    );
    const freeRows = await done(free, 'the other key', 60_000);
    const heldRows = await done(held, 'the limited key', 120_000);
    const spans = (r: Row[]): Array<[number, number]> =>
      r.map((t) => [t.started_at!.getTime(), t.completed_at!.getTime()]);
    const most = maxOverlap(spans(heldRows));
    assert.ok(most <= 3, `at most 3 at once across the nodes, saw ${most}`);
    assert.equal(most, 3, 'the limit was used');
    assert.ok(new Set(heldRows.map((t) => t.node_id)).size >= 2, 'several nodes ran the limited key');
    assert.ok(maxOverlap(spans(freeRows)) > 3, 'the other key used more slots');
    const freeEnd = Math.max(...freeRows.map((t) => t.completed_at!.getTime()));
    const heldEnd = Math.max(...heldRows.map((t) => t.completed_at!.getTime()));
    assert.ok(freeEnd < heldEnd - 500, 'the other key did not wait behind the limited one');
  });

  it('a rate of 50/s on a key is the cluster-wide dispatch rate (within 10 % over 10 s)', async () => {
    const rated = await submit(
      nodes[2]!,
      Array.from({ length: 650 }, (_, i) => ({ title: `r${i}`, concurrency_key: 'rated', payload: { ms: 1 } })),
    );
    const r = await done(rated, 'the rated key', 40_000);
    const starts = r.map((t) => t.started_at!.getTime()).sort((a, b) => a - b);
    const t0 = starts[0]! + 1000;
    const rate = starts.filter((s) => s >= t0 && s < t0 + 10_000).length / 10;
    assert.ok(rate >= 45 && rate <= 55, `measured ${rate}/s over 10 s`);
    assert.ok(new Set(r.map((t) => t.node_id)).size >= 2, 'several nodes dispatched it');
  });
});
