/**
 * Interoperability with code we did not write: Debian's python3-grpcio with stubs
 * generated from our proto by python3-grpc-tools. A Python agent registers and
 * returns results; a Python client submits tasks and watches them complete.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait-for.js';

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): { done: Promise<number | null>; out: () => string; err: () => string } {
  const p = spawn('/usr/bin/python3', args, { env, cwd: ROOT });
  let out = '';
  let err = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { done: new Promise((r) => p.on('exit', r)), out: () => out, err: () => err };
}

describe('gRPC interoperability with Python (grpcio)', function () {
  this.timeout(90_000);
  let tmp: string;
  let hub: RunningHub;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-py-'));
    execFileSync('/usr/bin/python3', [
      '-m',
      'grpc_tools.protoc',
      '-I',
      path.join(ROOT, 'proto'),
      `--python_out=${tmp}`,
      `--grpc_python_out=${tmp}`,
      path.join(ROOT, 'proto/hive/v1/hive.proto'),
    ]);
    hub = await startHub(
      [],
      hubEnv({
        HIVE_DATABASE_DATA_DIR: path.join(tmp, 'data'),
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '0',
      }),
    );
  });

  after(async () => {
    if (hub !== undefined) assert.equal(await hub.stop(), 0);
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it('a Python agent takes tasks a Python client submits and watches', async () => {
    const address = `127.0.0.1:${/"grpc_port":(\d+)/.exec(hub.output())?.[1]}`;
    const env = { ...process.env, PYTHONPATH: tmp };
    const agent = run(['examples/python/agent.py', address, '20'], env);
    await waitFor(
      () => agent.out().includes('REGISTERED') || agent.err().length > 0,
      20_000,
      'the Python agent to register',
    );
    assert.equal(agent.err(), '');
    const agents = (await client(hub.port).get('/api/agents?kind=remote')).body.data.agents;
    assert.ok(agents.some((a: { name: string; kind: string }) => a.name === 'python-agent' && a.kind === 'remote'));
    const cli = run(['examples/python/client.py', address, '20'], env);
    assert.equal(await cli.done, 0, cli.err());
    const report = JSON.parse(cli.out().trim().split('\n').pop() ?? '{}');
    assert.equal(report.submitted, 20);
    assert.equal(report.completed, 20);
    const results: Array<{ echo: number; by: string; resumed: string; checkpoint: unknown }> = Object.values(
      report.results,
    );
    for (const r of results) assert.equal(r.by, 'python');
    // Each task ran twice: the first attempt slept 50 ms with a checkpoint, the second was woken by its timer.
    for (const r of results) assert.deepEqual([r.resumed, r.checkpoint], ['timer', { step: 1 }]);
    assert.deepEqual(
      results.map((r) => r.echo).sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i),
    );
    // The Python agent's TaskResult.usage settled each task's estimate of 10 tokens.
    const one = (await client(hub.port).get(`/api/tasks/${Object.keys(report.results)[0]}`)).body.data;
    assert.deepEqual(
      [one.concurrency_keys, one.fairness_key, one.cost],
      [['python:demo'], 'python-client', { tokens: 10 }],
    );
    assert.deepEqual(one.usage, { tokens: one.title.length });
    assert.equal(await agent.done, 0, agent.err());
    assert.match(agent.out(), /DONE 20/);
  });
});
