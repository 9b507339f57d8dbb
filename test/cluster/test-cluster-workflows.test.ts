/**
 * Workflows across a cluster of three node processes on one PostgreSQL:
 * schedules every second fire one task per tick however many nodes run (none
 * doubled), keep firing when a node is SIGKILLed, and after the whole cluster
 * was down fire the missed ticks per their catch-up policy; a task sleeping
 * while its node is SIGKILLed resumes on another node at its time with its
 * checkpoint. Lateness is printed (the closing note's figures).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';
import { clusterDb, startNode, type NodeProc } from '../helpers/cluster.js';
import { waitFor } from '../helpers/wait-for.js';

const CONFIG = `
[agents.executors.workflow]
module = "test/fixtures/handlers/workflow.mjs"
`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

interface TickRow {
  idempotency_key: string;
  created_at: Date;
}

describe('cluster: schedules and durable timers across three nodes', function () {
  this.timeout(240_000);
  let tdb: TestDatabase;
  let db: ReturnType<typeof clusterDb>;
  let tmp: string;
  let file: string;
  const nodes: NodeProc[] = [];
  const alive = (): NodeProc[] => nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  const start = async (id: string): Promise<NodeProc> => {
    const n = await startNode(tdb.url, id, { HIVE_AGENTS_DEFAULT_POOL_SIZE: '0' }, ['--config', file]);
    nodes.push(n);
    const r = await n.api.post('/api/agents', {
      name: `wf-${id}-${nodes.length}`,
      executor: 'workflow',
      max_concurrency: 4,
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return n;
  };

  before(async function () {
    await requirePostgres(this);
    tdb = await createTestDatabase();
    db = clusterDb(tdb.url);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-cluster-wf-'));
    file = path.join(tmp, 'wf.toml');
    writeFileSync(file, CONFIG);
    for (const id of ['w1', 'w2', 'w3']) await start(id);
  });

  after(async () => {
    for (const n of alive()) n.child.kill('SIGKILL');
    await db?.close();
    await tdb?.drop();
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  const ticks = async (scheduleId: string): Promise<Array<{ tick: number; created: number }>> =>
    (
      await db.query<TickRow>(
        'SELECT idempotency_key, created_at FROM tasks WHERE schedule_id = $1 ORDER BY created_at',
        [scheduleId],
      )
    ).map((r) => ({
      tick: Date.parse(r.idempotency_key.split(':').slice(2).join(':')),
      created: r.created_at.getTime(),
    }));

  it('a task sleeping 2 s while its node is SIGKILLed resumes on another node at its time with its checkpoint', async () => {
    const r = await nodes[0]!.api.post('/api/tasks', { title: 'sleeper', payload: { mode: 'sleep', ms: 2000 } });
    assert.equal(r.status, 201);
    const id = r.body.data.id;
    let waiting: Record<string, any> = {};
    await waitFor(
      async () => (waiting = (await nodes[0]!.api.get(`/api/tasks/${id}`)).body.data).status === 'waiting',
      10_000,
      'waiting',
    );
    const [ran] = await db.query<{ node_id: string }>(
      'SELECT a.node_id FROM tasks t JOIN agents a ON a.id = t.assigned_agent WHERE t.id = $1',
      [id],
    );
    const victim = nodes.find((n) => n.nodeId === ran!.node_id)!;
    const exited = new Promise((res) => victim.child.once('exit', res));
    victim.child.kill('SIGKILL');
    await exited;
    const other = alive()[0]!;
    let done: Record<string, any> = {};
    await waitFor(
      async () => (done = (await other.api.get(`/api/tasks/${id}`)).body.data).status === 'completed',
      20_000,
      'completed',
    );
    const late = done.result.woke_at - Date.parse(waiting.wake_at);
    console.log(`      timer wake-up lateness after its node was killed: ${late} ms`);
    assert.ok(late >= 0 && late < 2000, `woke ${late} ms late`);
    assert.deepEqual(done.result.checkpoint.step, 1);
    const [after] = await db.query<{ node_id: string }>(
      'SELECT a.node_id FROM tasks t JOIN agents a ON a.id = t.assigned_agent WHERE t.id = $1',
      [id],
    );
    assert.notEqual(after!.node_id, victim.nodeId, 'resumed on another node');
    // Back to three nodes for the schedules.
    await start(`${victim.nodeId}b`);
  });

  it('schedules every second: one task per tick, none doubled through a SIGKILL and a cluster restart; missed ticks per catch-up', async () => {
    const make = async (name: string, catchup: string): Promise<string> => {
      const r = await alive()[0]!.api.post('/api/schedules', {
        name,
        interval_ms: 1000,
        catchup,
        catchup_max: 100,
        overlap: 'allow',
        task: { title: name, payload: { mode: 'none' } },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.data.id;
    };
    const all = await make('every-second-all', 'all');
    const none = await make('every-second-none', 'none');
    await sleep(7000);
    const killed = alive()[1]!;
    const gone = new Promise((res) => killed.child.once('exit', res));
    killed.child.kill('SIGKILL');
    await gone;
    await sleep(7000);
    // The whole cluster goes down for a while: ticks are missed.
    const rest = alive();
    const down = rest.map((n) => new Promise((res) => n.child.once('exit', res)));
    for (const n of rest) n.child.kill('SIGKILL');
    await Promise.all(down);
    const downAt = Date.now();
    await sleep(4000);
    const back = await start('w9');
    await sleep(3000);
    const downFor = Date.now() - downAt;
    void back;

    const a = await ticks(all);
    const keys = a.map((x) => x.tick);
    assert.equal(new Set(keys).size, keys.length, 'no tick doubled');
    const gaps = keys.slice(1).map((k, i) => k - keys[i]!);
    assert.ok(
      gaps.every((g) => g === 1000),
      `catch-up all: every tick fired once (gaps ${gaps.join(',')})`,
    );
    assert.ok(a.length >= 16, `${a.length} ticks`);
    const lateness = a.filter((x) => x.created < downAt).map((x) => x.created - x.tick);
    console.log(
      `      schedule tick lateness (3 nodes, one killed): p50 ${percentile(lateness, 50)} ms, p99 ${percentile(lateness, 99)} ms over ${lateness.length} ticks`,
    );

    const n = await ticks(none);
    const nk = n.map((x) => x.tick);
    assert.equal(new Set(nk).size, nk.length, 'no tick doubled');
    const missed = nk
      .slice(1)
      .map((k, i) => k - nk[i]!)
      .filter((g) => g > 1000);
    assert.equal(missed.length, 1, 'catch-up none: one gap, over the downtime');
    const s = (await back.api.get(`/api/schedules/${none}`)).body.data;
    assert.ok(s.skipped >= 2, `${s.skipped} skipped (down ${downFor} ms)`);
  });
});
