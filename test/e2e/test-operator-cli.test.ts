/**
 * The operator commands against a running hub with security on: tables and
 * --json, credentials from HIVE_API_KEY or --token, and the exit codes that
 * scripts rely on (2 usage, 3 unreachable, 4 not authenticated, 5 not found).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { hubEnv, runCli } from '../helpers/cli.js';
import { securedHub } from '../helpers/faults.js';
import { client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait-for.js';

describe('operator CLI', function () {
  this.timeout(60_000);
  let stack: Awaited<ReturnType<typeof securedHub>>;
  let url: string;
  let key: string;
  const op = (args: string[], extra: Record<string, string> = {}) =>
    runCli(args, hubEnv({ HIVE_URL: url, HIVE_API_KEY: key, ...extra }));

  before(async () => {
    stack = await securedHub('hub-opcli-');
    url = `http://127.0.0.1:${stack.hub.port}`;
    const api = client(stack.hub.port);
    key = (await api.post('/api/auth/keys', { name: 'ops', role: 'admin' }, stack.admin)).body.data.key as string;
  });
  after(async () => stack?.close());

  it('refuses without credentials (exit 4), an unreachable hub (exit 3) and a bad command line (exit 2)', async () => {
    const anonymous = await runCli(['status'], hubEnv({ HIVE_URL: url }));
    assert.equal(anonymous.code, 4);
    assert.match(anonymous.stderr, /UNAUTHENTICATED: .*\(give --token, HIVE_TOKEN or HIVE_API_KEY\)/);
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as net.AddressInfo).port;
    await new Promise((r) => free.close(r));
    const away = await op(['status', '--url', `http://127.0.0.1:${port}`]);
    assert.equal(away.code, 3);
    assert.match(away.stderr, new RegExp(`hub unreachable at http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
    const usage = await op(['tasks', 'frobnicate']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /tasks: expected list, show ID, explain ID, cancel ID, retry ID, redrive/);
    const foreign = await op(['agents', 'list', '--reason', 'x']);
    assert.equal(foreign.code, 2);
  });

  it('status shows health, counts and modules; --json gives the API data', async () => {
    const r = await op(['status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^hub +${url.replace(/[.]/g, '\\.')} +healthy +version \\d+\\.\\d+\\.\\d+`));
    assert.match(r.stdout, /^tasks +pending \d+ +running \d+ +waiting \d+ +completed \d+/m);
    assert.match(r.stdout, /^agent_management +running/m);
    const j = await op(['status', '--json']);
    assert.equal((JSON.parse(j.stdout) as { health: { status: string } }).health.status, 'healthy');
  });

  it('lists, shows, cancels, retries and redrives tasks, with exit 5 for an unknown task', async () => {
    const api = client(stack.hub.port);
    const stuck = (
      await api.post(
        '/api/tasks',
        { title: 'waits for nobody', required_capabilities: ['nobody-has-this'] },
        stack.admin,
      )
    ).body.data.id as string;
    const failer = (
      await api.post('/api/agents', { name: 'failer', executor: 'fail', capabilities: ['fails'] }, stack.admin)
    ).body.data.id as string;
    const doomed = [];
    for (let i = 0; i < 3; i++)
      doomed.push(
        (
          await api.post(
            '/api/tasks',
            { title: `doomed ${i}`, required_capabilities: ['fails'], max_attempts: 1, payload: { retryable: true } },
            stack.admin,
          )
        ).body.data.id as string,
      );
    await waitFor(
      async () => (await api.get('/api/tasks?status=dead', stack.admin)).body.data.total === 3,
      10_000,
      'three dead tasks',
    );

    const list = await op(['tasks', 'list', '--status', 'pending']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID +STATUS +PRIORITY +ATTEMPTS +AGENT +CREATED +TITLE$/m);
    assert.match(list.stdout, new RegExp(`^${stuck} +pending +medium +0/3 +- .* waits for nobody$`, 'm'));
    const json = JSON.parse((await op(['tasks', 'list', '--status', 'dead', '--json'])).stdout) as {
      tasks: Array<{ id: string }>;
    };
    assert.deepEqual(json.tasks.map((t) => t.id).sort(), [...doomed].sort());

    const show = await op(['tasks', 'show', stuck]);
    assert.match(show.stdout, /^status +pending$/m);
    assert.match(show.stdout, /- -> pending .*\{"reason":"submitted"\}/);
    const why = await op(['tasks', 'explain', stuck]);
    assert.equal(why.code, 0, why.stderr);
    assert.match(why.stdout, /^NO_CAPABLE_AGENT: no agent meets its requirements: "nobody-has-this"/);
    const keyed = (
      await api.post(
        '/api/tasks',
        { title: 'keyed', concurrency_key: 'ops:demo', required_capabilities: ['nobody-has-this'] },
        stack.admin,
      )
    ).body.data.id as string;
    const keys = await op(['flow', 'list']);
    assert.equal(keys.code, 0, keys.stderr);
    assert.match(keys.stdout, /^KEY +RUNNING +LIMIT +WAITING +BUCKETS$/m);
    assert.match(keys.stdout, /^ops:demo +0 +- +1 +-$/m);
    const one = JSON.parse((await op(['flow', 'show', 'ops:demo', '--json'])).stdout) as {
      key: string;
      waiting: number;
    };
    assert.deepEqual([one.key, one.waiting], ['ops:demo', 1]);
    await api.post(`/api/tasks/${keyed}/cancel`, {}, stack.admin);
    const unknown = await op(['tasks', 'show', '00000000-0000-4000-8000-000000000000']);
    assert.equal(unknown.code, 5);
    assert.match(unknown.stderr, /TASK_NOT_FOUND/);
    const notUuid = await op(['tasks', 'show', 'nope']);
    assert.equal(notUuid.code, 1);
    assert.match(notUuid.stderr, /VALIDATION_FAILED: id/);

    const cancel = await op(['tasks', 'cancel', stuck, '--reason', 'operator said so']);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(cancel.stdout, `task ${stuck} cancelled\n`);
    const twice = await op(['tasks', 'cancel', stuck]);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /INVALID_STATE/);

    await api.post(`/api/agents/${failer}/pause`, {}, stack.admin);
    const retry = await op(['tasks', 'retry', doomed[0]!]);
    assert.equal(retry.code, 0, retry.stderr);
    assert.equal(retry.stdout, `task ${doomed[0]} is pending again\n`);
    const redrive = await op(['tasks', 'redrive', '--all']);
    assert.equal(redrive.stdout, 'redriven 2 dead tasks back to pending\n');
    assert.equal((await api.get('/api/tasks?status=dead', stack.admin)).body.data.total, 0);
  });

  it('lists, pauses, resumes and removes agents; lists and restarts modules', async () => {
    const api = client(stack.hub.port);
    const id = (await api.post('/api/agents', { name: 'cli-agent', capabilities: ['x:0.5'] }, stack.admin)).body.data
      .id as string;
    const list = await op(['agents', 'list']);
    assert.match(list.stdout, new RegExp(`^${id} +cli-agent +local +idle +no +0/1 +\\S+ +x:0\\.5$`, 'm'));
    assert.match((await op(['agents', 'pause', id])).stdout, /agent cli-agent .* paused/);
    assert.equal((await api.get(`/api/agents/${id}`, stack.admin)).body.data.paused, true);
    assert.match((await op(['agents', 'resume', id])).stdout, /resumed/);
    assert.match((await op(['agents', 'drain', id, '--timeout-ms', '1000'])).stdout, /paused and runs nothing/);
    assert.match((await op(['agents', 'cancel', id, '--reason', 'cli'])).stdout, /0 tasks back to pending/);
    assert.match((await op(['agents', 'restart', id])).stdout, /restarted: idle, 1 restarts/);
    assert.equal((await op(['agents', 'drain', id, '--timeout-ms', 'soon'])).code, 2);
    await op(['agents', 'resume', id]);
    assert.equal((await op(['agents', 'remove', id])).code, 0);
    assert.equal((await op(['agents', 'remove', id])).code, 5);
    const modules = await op(['modules', 'list']);
    assert.match(modules.stdout, /^MODULE +STATUS +RESTARTS +CRASHES +MAILBOX +LAST ERROR$/m);
    const restart = await op(['modules', 'restart', 'agent_management']);
    assert.equal(restart.code, 0, restart.stderr);
    assert.match(restart.stdout, /^module agent_management restarted: running, 1 restarts$/m);
    assert.equal((await op(['modules', 'restart', 'nope'])).code, 5);
  });

  it('takes a bearer token with --token instead of a key', async () => {
    const token = stack.admin['authorization']!.replace('Bearer ', '');
    const r = await runCli(['agents', 'list', '--json', '--token', token], hubEnv({ HIVE_URL: url }));
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Array.isArray((JSON.parse(r.stdout) as { agents: unknown[] }).agents));
  });
});
