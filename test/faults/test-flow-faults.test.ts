/**
 * Flow control under faults, on a private PostgreSQL server: the database
 * restarting while keys are held and budgets reserved, and a remote agent
 * killed while it holds a key's slots. Limits hold throughout, nothing
 * acknowledged is lost, and no slot stays taken by a task nobody runs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, type RunningHub } from '../helpers/cli.js';
import { client, type Client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait-for.js';
import { alive, faultStack, rawAgent, requirePrivatePostgres, type FaultStack } from '../helpers/faults.js';
import { maxOverlap } from '../helpers/spans.js';

const CONFIG = `
[agents.executors.usage]
module = "test/fixtures/handlers/usage.mjs"
[flow.concurrency."k"]
limit = 2
[flow.concurrency."remote"]
limit = 2
[flow.budget."llm"]
unit = "tokens"
per_minute = 2000
`;

interface Span {
  started_at: Date | null;
  completed_at: Date | null;
}

describe('faults: flow control through a database restart and a killed agent', function () {
  this.timeout(180_000);
  let stack: FaultStack;
  let hub: RunningHub;
  let api: Client;
  let tmp: string;

  before(async function () {
    requirePrivatePostgres(this);
    stack = await faultStack();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-flow-fault-'));
    const file = path.join(tmp, 'flow.toml');
    writeFileSync(file, CONFIG);
    hub = await stack.startHub(
      {
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '4',
        HIVE_AGENTS_POOL_MAX_CONCURRENCY: '8',
        HIVE_AGENTS_DEFAULT_EXECUTOR: 'usage',
        HIVE_GRPC_AGENT_GRACE_MS: '500',
      },
      ['--config', file],
    );
    api = client(hub.port);
  });
  after(async () => {
    await stack?.close();
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  const bulk = async (tasks: Array<Record<string, unknown>>): Promise<void> => {
    const r = await api.post('/api/tasks/bulk', { tasks });
    assert.equal(r.status, 201, JSON.stringify(r.body).slice(0, 300));
  };
  const rows = (key: string): Promise<Array<Span & { status: string; usage: unknown }>> =>
    stack.query(`SELECT status, started_at, completed_at, usage FROM tasks WHERE concurrency_keys @> $1::jsonb`, [
      JSON.stringify([key]),
    ]);

  it('keeps a key to its limit and settles every budget through a restart of PostgreSQL', async () => {
    await bulk(Array.from({ length: 150 }, (_, i) => ({ title: `k${i}`, concurrency_key: 'k', payload: { ms: 20 } })));
    await bulk(
      Array.from({ length: 60 }, (_, i) => ({
        title: `l${i}`,
        concurrency_key: 'llm',
        cost: { tokens: 100 },
        payload: { ms: 5, usage: { tokens: 20 } },
      })),
    );
    await waitFor(
      async () => (await rows('k')).filter((t) => t.status === 'completed').length >= 30,
      30_000,
      'some of k before the restart',
    );
    stack.pg.stop();
    stack.pg.start();
    await waitFor(
      async () => (await rows('k')).every((t) => t.status === 'completed'),
      90_000,
      'every k task after the restart',
    );
    // 2,000 tokens, 100 reserved and 20 used each: about 24 fit a minute, and all 60 only because each settles.
    await waitFor(
      async () => (await rows('llm')).every((t) => t.status === 'completed'),
      60_000,
      'every llm task: settlements gave the unused tokens back',
    );
    assert.ok(alive(hub));
    const k = await rows('k');
    const most = maxOverlap(k.map((t) => [t.started_at!.getTime(), t.completed_at!.getTime()] as const));
    assert.ok(most <= 2, `at most 2 at once across the restart, saw ${most}`);
    assert.ok((await rows('llm')).every((t) => JSON.stringify(t.usage) === '{"tokens":20}'));
    const state = (await api.get('/api/flow/keys/k')).body.data;
    assert.equal(state.running, 0, 'no slot left taken');
  });

  it('frees the slots of a remote agent killed while it holds them', async () => {
    const address = `127.0.0.1:${/"grpc_port":(\d+)/.exec(hub.output())?.[1]}`;
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/stuck-agent.ts', address], { cwd: ROOT });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('REGISTERED'), 20_000, 'the stuck agent to register');
    await bulk(
      Array.from({ length: 20 }, (_, i) => ({
        title: `r${i}`,
        concurrency_key: 'remote',
        required_capabilities: ['doomed-remote'],
      })),
    );
    await waitFor(() => out.includes('IN_FLIGHT 2'), 20_000, 'the stuck agent to hold both slots');
    assert.equal((await api.get('/api/flow/keys/remote')).body.data.running, 2);
    child.kill('SIGKILL');
    // Past its grace its tasks are requeued; a healthy agent with the capability then runs all 20, two at a time.
    const healthy = rawAgent(address, 'healthy', 'doomed-remote');
    try {
      await waitFor(
        async () => (await rows('remote')).every((t) => t.status === 'completed'),
        60_000,
        'every task of the killed agent to complete elsewhere',
      );
    } finally {
      healthy.close();
    }
    assert.equal((await api.get('/api/flow/keys/remote')).body.data.running, 0);
  });
});
