/**
 * Three node processes on 127.0.0.1 sharing one PostgreSQL database: failover
 * after SIGKILL, a zombie paused with SIGSTOP, and messages across nodes.
 */
import assert from 'node:assert/strict';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';
import { clusterDb, logEvents, startNode, type NodeProc } from '../helpers/cluster.js';
import { observer } from '../helpers/ws.js';
import { waitFor } from '../helpers/wait-for.js';

// The defaults of [cluster]: a SIGKILLed node is dead once its last heartbeat is
// dead_after_ms old and a probe fails; detectors run every heartbeat_interval_ms.
const HEARTBEAT_MS = 500;
const DEAD_AFTER_MS = 3000;
const PROBE_TIMEOUT_MS = 500;
/** The configured bound: silence, then at most two detector rounds and a probe. */
const DEATH_BOUND_MS = DEAD_AFTER_MS + 2 * HEARTBEAT_MS + PROBE_TIMEOUT_MS;

type Db = ReturnType<typeof clusterDb>;

async function statusCounts(db: Db, ids: string[]): Promise<Record<string, number>> {
  const rows = await db.query<{ status: string; n: string }>(
    'SELECT status, count(*) AS n FROM tasks WHERE id = ANY($1::uuid[]) GROUP BY status',
    [ids],
  );
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

async function memberRow(db: Db, node: string): Promise<{ status: string; epoch: number } | undefined> {
  const [r] = await db.query<{ status: string; epoch: string }>(
    'SELECT status, epoch FROM cluster_members WHERE node_id = $1',
    [node],
  );
  return r === undefined ? undefined : { status: r.status, epoch: Number(r.epoch) };
}

/** Completed events per task id as seen by an observer. */
function completions(events: Array<Record<string, any>>): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of events) if (e['type'] === 'task.completed') out.set(e['data'].id, (out.get(e['data'].id) ?? 0) + 1);
  return out;
}

describe('cluster: three nodes on one PostgreSQL', function () {
  this.timeout(300_000);
  let tdb: TestDatabase;
  let db: Db;
  const nodes = new Map<string, NodeProc>();
  const node = (id: string): NodeProc => nodes.get(id)!;

  before(async function () {
    await requirePostgres(this);
    tdb = await createTestDatabase();
    db = clusterDb(tdb.url);
    for (const id of ['n1', 'n2', 'n3']) nodes.set(id, await startNode(tdb.url, id));
    await waitFor(
      async () =>
        (await node('n1').api.get('/api/hive/status')).body.data.nodes.filter((n: any) => n.reachable).length === 3,
      20_000,
      'three reachable nodes',
    );
  });

  after(async () => {
    for (const n of nodes.values())
      if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
    await db?.close();
    await tdb?.drop();
  });

  it('shows the whole cluster in /api/hive/status and /api/agents from any node, and serves ?node= module requests', async () => {
    const status = (await node('n3').api.get('/api/hive/status')).body.data;
    assert.deepEqual(
      status.nodes.map((n: any) => [n.node_id, n.status, n.reachable]),
      [
        ['n1', 'active', true],
        ['n2', 'active', true],
        ['n3', 'active', true],
      ],
    );
    assert.equal(status.metrics.total_agents, 6, 'two pool agents per node');
    const agents = (await node('n1').api.get('/api/agents?limit=100')).body.data;
    assert.deepEqual([...new Set(agents.agents.map((a: any) => a.node_id))].sort(), ['n1', 'n2', 'n3']);
    const modules = await node('n1').api.get('/api/modules?node=n2');
    assert.equal(modules.status, 200);
    assert.equal(modules.body.data.node_id, 'n2');
    const restarted = await node('n1').api.post('/api/modules/task_management/restart?node=n3');
    assert.equal(restarted.body.data.node_id, 'n3');
    assert.equal(restarted.body.data.restarts, 1);
    const unknown = await node('n1').api.get('/api/modules?node=n9');
    assert.equal(unknown.status, 503);
    assert.equal(unknown.body.error.code, 'NODE_UNREACHABLE');
    const bad = await node('n1').api.get('/api/modules?node=a%20b');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.details.field, 'node');
  });

  it('cancels through node A a task running on node B; an observer on node C sees events from A and B', async () => {
    const obs = await observer(node('n3').port, ['tasks']);
    const b = await node('n2').api.post('/api/agents', {
      name: 'only-on-b',
      capabilities: [{ name: 'b-only', proficiency: 1 }],
      executor: 'sleep',
      max_concurrency: 1,
    });
    assert.equal(b.status, 201);
    const submitted = await node('n1').api.post('/api/tasks', {
      title: 'long on b',
      payload: { ms: 60_000 },
      required_capabilities: [{ name: 'b-only', min_proficiency: 0.5 }],
    });
    const id = submitted.body.data.id;
    await waitFor(
      async () => (await node('n1').api.get(`/api/tasks/${id}`)).body.data.status === 'running',
      20_000,
      'the task to run on node B',
    );
    const running = async (): Promise<number> =>
      (await node('n2').api.get('/metrics')).body.data.current_metrics.task_management.runner.running;
    assert.equal(await running(), 1);
    const cancelled = await node('n1').api.post(`/api/tasks/${id}/cancel`, { reason: 'from node A' });
    assert.equal(cancelled.body.data.status, 'cancelled');
    await waitFor(async () => (await running()) === 0, 10_000, 'node B to abort the handler');
    await waitFor(
      () => obs.events.some((e) => e.type === 'task.cancelled' && e.data.id === id && e.node_id === 'n1'),
      10_000,
      'the cancel from node A on C',
    );
    assert.ok(
      obs.events.some((e) => e.type === 'task.assigned' && e.data.id === id && e.node_id === 'n2'),
      'the assignment on node B, seen on C',
    );
    // Events are forwarded only to nodes that have observers: n3 stops getting them once its observer leaves.
    const observedBy = async (): Promise<string[]> =>
      (await node('n1').api.get('/metrics')).body.data.current_metrics.cluster.observed_by;
    assert.deepEqual(await observedBy(), ['n3']);
    obs.ws.close();
    await waitFor(async () => (await observedBy()).length === 0, 5000, 'n3 to say it has no observers');
    await node('n2').api.del(`/api/agents/${b.body.data.id}`);
  });

  it("operates node B's agent through node A: pause, drain, cancel, restart, resume and remove reach B's engine", async () => {
    const created = await node('n2').api.post('/api/agents', {
      name: 'operated-from-a',
      capabilities: [{ name: 'b-op', proficiency: 1 }],
      executor: 'sleep',
      max_concurrency: 1,
    });
    const id = created.body.data.id;
    const submitted = await node('n1').api.post('/api/tasks', {
      title: 'long on b',
      payload: { ms: 60_000 },
      required_capabilities: [{ name: 'b-op', min_proficiency: 0.5 }],
    });
    const taskId = submitted.body.data.id;
    const status = async (): Promise<string> => (await node('n1').api.get(`/api/tasks/${taskId}`)).body.data.status;
    const runningOnB = async (): Promise<number> =>
      (await node('n2').api.get('/metrics')).body.data.current_metrics.task_management.runner.running;
    await waitFor(async () => (await status()) === 'running', 20_000, 'the task to run on node B');
    const viaA = (action: string, body?: unknown) => node('n1').api.post(`/api/agents/${id}/${action}`, body ?? {});

    const paused = await viaA('pause');
    assert.equal(paused.status, 200);
    assert.equal(paused.body.data.paused, true);
    assert.equal(paused.body.data.running_tasks, 1, "the answer comes from B's engine");
    const got = (await node('n1').api.get(`/api/agents/${id}`)).body.data;
    assert.equal(got.restarts, 0, "B's actor answered (another node's list shows null)");

    const drain = await viaA('drain', { timeout_ms: 200 });
    assert.equal(drain.body.data.drained, false);
    assert.equal(drain.body.data.running_tasks, 1);

    const cancelled = await viaA('cancel', { reason: 'through node A' });
    assert.equal(cancelled.body.data.requeued, 1);
    await waitFor(async () => (await runningOnB()) === 0, 10_000, "B's handler to be aborted");
    await waitFor(async () => (await status()) === 'pending', 10_000, 'the task back to pending (its agent is paused)');

    const restarted = await viaA('restart');
    assert.equal(restarted.status, 200);
    assert.equal(restarted.body.data.restarts, 1);
    await viaA('resume');
    await waitFor(async () => (await status()) === 'running', 20_000, 'the resumed agent to run it again');

    const removed = await node('n1').api.del(`/api/agents/${id}`);
    assert.equal(removed.status, 200);
    await waitFor(async () => (await runningOnB()) === 0, 10_000, 'B to abort the removed agent’s handler');
    assert.equal((await node('n2').api.get(`/api/agents/${id}`)).status, 404);
    await node('n1').api.post(`/api/tasks/${taskId}/cancel`, {});
  });

  it('completes 20,000 tasks submitted across the nodes with one node SIGKILLed mid-run: none lost, none completed twice; the dead node is declared dead within the bound and its leases released', async () => {
    const N = 20_000;
    const obs = await observer(node('n3').port, ['tasks']);
    const ids: string[] = [];
    const order = ['n1', 'n2', 'n3'];
    for (let i = 0; i < N / 1000; i++) {
      const r = await node(order[i % 3]!).api.post('/api/tasks/bulk', {
        tasks: Array.from({ length: 1000 }, (_, j) => ({ title: `c${i}-${j}`, payload: { i, j } })),
      });
      assert.equal(r.status, 201, JSON.stringify(r.body).slice(0, 300));
      ids.push(...r.body.data.tasks.map((t: any) => t.id));
    }
    assert.equal(new Set(ids).size, N, 'every submission acknowledged');
    await waitFor(
      async () => ((await statusCounts(db, ids))['completed'] ?? 0) >= N / 4,
      120_000,
      'a quarter of the tasks to complete',
    );
    // Killed while it holds leases (no-op tasks end within milliseconds, so a node can hold none for a moment).
    const leasesOf = async (nodeId: string): Promise<number> =>
      Number(
        (
          await db.query<{ n: string }>(
            `SELECT count(*) AS n FROM tasks WHERE lease_owner = $1 AND status IN ('assigned', 'running')`,
            [nodeId],
          )
        )[0]?.n ?? 0,
      );
    await waitFor(async () => (await leasesOf('n2')) >= 5, 30_000, 'n2 to hold leases');
    const killedAt = Date.now();
    node('n2').child.kill('SIGKILL');
    await waitFor(async () => (await memberRow(db, 'n2'))?.status === 'dead', 20_000, 'n2 to be declared dead');
    const detectedMs = Date.now() - killedAt;
    console.log(`      n2 declared dead ${detectedMs} ms after SIGKILL (bound ${DEATH_BOUND_MS} ms)`);
    assert.ok(detectedMs <= DEATH_BOUND_MS + 500, `declared dead after ${detectedMs} ms`);
    const declaredBy = (): Array<Record<string, any>> =>
      [...logEvents(node('n1'), 'cluster.dead'), ...logEvents(node('n3'), 'cluster.dead')].filter(
        (e) => e['peer'] === 'n2',
      );
    await waitFor(() => declaredBy().length > 0, 5000, 'the declaring node to log it');
    const declared = declaredBy();
    assert.equal(declared.length, 1, 'one survivor declares it');
    console.log(`      ${declared[0]!['released']} leases of n2 released at once`);
    assert.ok(declared[0]!['released'] > 0, 'n2 held leases when it died');
    await waitFor(
      async () => ((await statusCounts(db, ids))['completed'] ?? 0) === N,
      180_000,
      'every task to complete',
    );
    assert.deepEqual(await statusCounts(db, ids), { completed: N });
    // Nothing completed twice: no task has a second completion event on any node's stream.
    // Let the observer catch up: until the completions it has seen stop growing for half a second.
    let seen = -1;
    await waitFor(
      async () => {
        const now = completions(obs.events).size;
        if (now === seen) return true;
        seen = now;
        await new Promise((r) => setTimeout(r, 500));
        return false;
      },
      30_000,
      'the observer to catch up',
    );
    assert.ok(seen >= N / 2, `the observer on n3 saw ${seen} completions`);
    const twice = [...completions(obs.events)].filter(([, n]) => n > 1);
    assert.deepEqual(twice, []);
    const origins = new Set(obs.events.filter((e) => e.type === 'task.completed').map((e) => e.node_id ?? 'n3'));
    assert.deepEqual([...origins].sort(), ['n1', 'n2', 'n3'], 'the observer on n3 saw completions from every node');
    const status = (await node('n1').api.get('/api/hive/status')).body.data;
    assert.equal(status.nodes.find((n: any) => n.node_id === 'n2').status, 'dead');
    obs.ws.close();
  });

  it('fences a zombie: a node paused past the death bound has its completions refused, then rejoins with a new epoch', async () => {
    nodes.set('n2', await startNode(tdb.url, 'n2'));
    const rejoined = await memberRow(db, 'n2');
    assert.equal(rejoined?.status, 'active');
    const zombie = node('n2');
    const obs = await observer(node('n1').port, ['tasks']);
    for (const n of [zombie, node('n1')]) {
      const r = await n.api.post('/api/agents', {
        name: `slow-${n.nodeId}`,
        capabilities: [{ name: 'slow', proficiency: 1 }],
        executor: 'sleep',
        max_concurrency: 4,
      });
      assert.equal(r.status, 201);
    }
    const r = await node('n3').api.post('/api/tasks/bulk', {
      tasks: Array.from({ length: 40 }, (_, i) => ({
        title: `z${i}`,
        payload: { ms: 400 },
        required_capabilities: [{ name: 'slow', min_proficiency: 0 }],
      })),
    });
    const ids: string[] = r.body.data.tasks.map((t: any) => t.id);
    const runningOn = async (n: NodeProc): Promise<number> =>
      (await n.api.get('/metrics')).body.data.current_metrics.task_management.runner.running;
    await waitFor(async () => (await runningOn(zombie)) > 0, 20_000, 'tasks running on the zombie');
    zombie.child.kill('SIGSTOP');
    await waitFor(
      async () => (await memberRow(db, 'n2'))?.status === 'dead',
      20_000,
      'the paused node to be declared dead',
    );
    zombie.child.kill('SIGCONT');
    await waitFor(
      async () => {
        const m = await memberRow(db, 'n2');
        return m?.status === 'active' && m.epoch === rejoined.epoch + 1;
      },
      20_000,
      'the zombie to rejoin with a new epoch',
    );
    await waitFor(
      async () => {
        const rows = await db.query<{ n: string }>(
          `SELECT count(*) AS n FROM tasks WHERE id = ANY($1::uuid[]) AND status = 'completed'`,
          [ids],
        );
        return Number(rows[0]!.n) === ids.length;
      },
      60_000,
      'every task to complete',
    );
    assert.equal(logEvents(zombie, 'cluster.evicted').length >= 1, true, 'the zombie learnt it was declared dead');
    const stale = (await zombie.api.get('/metrics')).body.data.current_metrics.task_management.runner.stale_finishes;
    console.log(`      the zombie's stale finishes refused: ${stale}`);
    assert.ok(stale > 0, 'the zombie tried to complete tasks whose leases it had lost, and was refused');
    // Forwarded events are best effort (those in flight when the zombie's link was cut are lost); none may come twice.
    assert.deepEqual(
      [...completions(obs.events)].filter(([id, n]) => ids.includes(id) && n > 1),
      [],
      'no task completed twice',
    );
    // It works again after rejoining: its agents are back, and it takes new tasks.
    const agents = (await zombie.api.get('/api/agents?limit=100')).body.data.agents.filter(
      (a: any) => a.node_id === 'n2',
    );
    await waitFor(
      async () =>
        (await zombie.api.get('/api/agents?limit=100')).body.data.agents
          .filter((a: any) => a.node_id === 'n2')
          .every((a: any) => a.state !== 'offline'),
      10_000,
      'its agents back from offline',
    );
    assert.ok(agents.length >= 3);
    obs.ws.close();
  });

  it('leaves the cluster on SIGTERM: status left, nothing held', async () => {
    assert.equal(await node('n3').stop('SIGTERM'), 0);
    assert.equal((await memberRow(db, 'n3'))?.status, 'left');
    const held = await db.query<{ n: string }>(`SELECT count(*) AS n FROM tasks WHERE lease_owner = 'n3'`);
    assert.equal(Number(held[0]!.n), 0);
  });
});

describe('cluster: nodes with security on', function () {
  this.timeout(120_000);
  let tdb: TestDatabase;
  const nodes: NodeProc[] = [];
  const secret = 'cluster-security-'.padEnd(64, 's');

  before(async function () {
    await requirePostgres(this);
    tdb = await createTestDatabase();
    const security = {
      HIVE_SECURITY_ENABLED: 'true',
      HIVE_SECURITY_JWT_SECRET: secret,
      HIVE_SECURITY_ADMIN_PASSWORD: 'cluster admin password',
    };
    nodes.push(await startNode(tdb.url, 's1', security));
    nodes.push(await startNode(tdb.url, 's2', security));
  });

  after(async () => {
    for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
    await tdb?.drop();
  });

  it('links nodes that share the JWT secret, and a token from one node is good on the other', async () => {
    const login = await nodes[0]!.api.post('/auth/login', { username: 'admin', password: 'cluster admin password' });
    assert.equal(login.status, 200);
    const auth = { authorization: `Bearer ${login.body.data.access_token}` };
    assert.equal((await nodes[1]!.api.get('/api/hive/status')).status, 401);
    await waitFor(
      async () =>
        (await nodes[1]!.api.get('/api/hive/status', auth)).body.data.nodes.filter((n: any) => n.reachable).length ===
        2,
      20_000,
      'both nodes reachable through the keyed link',
    );
    const remote = await nodes[0]!.api.get('/api/modules?node=s2', auth);
    assert.equal(remote.body.data.node_id, 's2');
  });
});
