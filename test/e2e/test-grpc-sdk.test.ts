/** The TypeScript SDK (src/grpc/client) against the real CLI: HiveClient and runAgent. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { HiveClient, runAgent } from '../../src/grpc/client/index.js';
import { ROOT, hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait-for.js';

describe('gRPC SDK', function () {
  this.timeout(90_000);
  let tmp: string;
  let hub: RunningHub;
  let address: string;
  let hive: HiveClient;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-sdk-'));
    hub = await startHub(
      [],
      hubEnv({
        HIVE_DATABASE_DATA_DIR: tmp,
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '0',
        HIVE_GRPC_AGENT_GRACE_MS: '1500',
        HIVE_TASKS_MAX_PENDING: '100000',
      }),
    );
    address = `127.0.0.1:${/"grpc_port":(\d+)/.exec(hub.output())?.[1]}`;
    hive = new HiveClient(address);
  });

  after(async () => {
    hive?.close();
    if (hub !== undefined) assert.equal(await hub.stop(), 0);
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it('never has more than max_concurrency tasks in flight under a burst of 1,000', async () => {
    let inFlight = 0;
    let max = 0;
    const agent = runAgent(
      async (task) => {
        inFlight++;
        max = Math.max(max, inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight--;
        return { doubled: (task.payload as number) * 2 };
      },
      { address, name: 'ts-burst', capabilities: [{ name: 'burst', proficiency: 1 }], maxConcurrency: 2 },
    );
    await agent.registered;
    const completed = new Set<string>();
    const stopWatch = hive.watchTasks((e) => completed.add(String(e.task['id'])), { types: ['task.completed'] });
    const ids: string[] = [];
    for (let b = 0; b < 10; b++) {
      const r = await hive.submitTasks(
        Array.from({ length: 100 }, (_, i) => ({
          title: `burst-${b}-${i}`,
          payload: b * 100 + i,
          required_capabilities: [{ name: 'burst', min_proficiency: 0 }],
        })),
      );
      ids.push(...r.tasks.map((t) => String(t['id'])));
    }
    await waitFor(() => ids.every((id) => completed.has(id)), 60_000, '1,000 completions');
    assert.ok(max <= 2, `at most 2 in flight, saw ${max}`);
    const one = await hive.getTask(ids[123] ?? '');
    assert.deepEqual(JSON.parse(String(one['result_json'])), { doubled: 246 });
    stopWatch();
    await agent.stop();
  });

  it('aborts a handler the hub cancels, and keeps a task across a reconnection', async () => {
    let aborted = false;
    let release: (() => void) | undefined;
    const agent = runAgent(
      (task, ctx) =>
        new Promise((resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted'));
          });
          release = () => resolve({ title: task.title });
        }),
      { address, name: 'ts-careful', capabilities: [{ name: 'careful', proficiency: 1 }], reconnectMs: 50 },
    );
    const firstId = await agent.registered;
    const t1 = await hive.submitTask({
      title: 'to cancel',
      required_capabilities: [{ name: 'careful', min_proficiency: 0 }],
    });
    await waitFor(() => agent.inFlight === 1, 5000, 'the task to reach the agent');
    await hive.cancelTask(String(t1.task['id']), 'changed my mind');
    await waitFor(() => aborted, 5000, 'the handler to see the abort');

    const t2 = await hive.submitTask({
      title: 'kept',
      required_capabilities: [{ name: 'careful', min_proficiency: 0 }],
    });
    await waitFor(() => agent.inFlight === 1, 5000, 'the second task');
    agent.disconnect();
    await new Promise((r) => setTimeout(r, 300)); // reconnected with the resume token meanwhile
    assert.equal(agent.agentId, firstId);
    release?.();
    await waitFor(
      async () => (await hive.getTask(String(t2.task['id'])))['status'] === 'completed',
      10_000,
      'the kept task to complete',
    );
    assert.deepEqual(JSON.parse(String((await hive.getTask(String(t2.task['id'])))['result_json'])), { title: 'kept' });
    await agent.stop();
  });

  it('requeues the tasks of a remote agent process killed mid-task after the grace; another agent completes them', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/stuck-agent.ts', address], { cwd: ROOT });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('REGISTERED'), 20_000, 'the agent process to register');
    const r = await hive.submitTasks(
      Array.from({ length: 3 }, (_, i) => ({
        title: `orphan-${i}`,
        payload: i,
        required_capabilities: [{ name: 'doomed-remote', min_proficiency: 0 }],
      })),
    );
    const ids = r.tasks.map((t) => String(t['id']));
    await waitFor(() => out.includes('IN_FLIGHT 3'), 10_000, 'three tasks in flight on the process');
    child.kill('SIGKILL');
    const rescuer = runAgent((task) => ({ rescued: task.payload }), {
      address,
      name: 'rescuer',
      capabilities: [{ name: 'doomed-remote', proficiency: 1 }],
      maxConcurrency: 3,
    });
    await rescuer.registered;
    // Within the grace the tasks stay with the dead process...
    await new Promise((res) => setTimeout(res, 300));
    for (const id of ids) assert.notEqual((await hive.getTask(id))['status'], 'completed');
    // ...after it they are requeued and the rescuer completes them.
    await waitFor(
      async () => (await Promise.all(ids.map((id) => hive.getTask(id)))).every((t) => t['status'] === 'completed'),
      15_000,
      'the rescuer to complete the orphans',
    );
    for (const id of ids)
      assert.equal(JSON.parse(String((await hive.getTask(id))['result_json'])).rescued !== undefined, true);
    await rescuer.stop();
  });
  it('a restarted agent process resumes with the token inside the grace, gets its unfinished tasks again and completes them', async () => {
    const start = (...args: string[]): { child: ReturnType<typeof spawn>; out: () => string } => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/stuck-agent.ts', address, ...args], {
        cwd: ROOT,
      });
      let out = '';
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      return { child, out: () => out };
    };
    const first = start();
    await waitFor(() => first.out().includes('TOKEN'), 20_000, 'the agent process to register');
    const [, agentId, token] = /REGISTERED (\S+) TOKEN (\S+)/.exec(first.out())!;
    const r = await hive.submitTasks(
      Array.from({ length: 3 }, (_, i) => ({
        title: `kept-${i}`,
        payload: i,
        required_capabilities: [{ name: 'doomed-remote', min_proficiency: 0 }],
      })),
    );
    const ids = r.tasks.map((t) => String(t['id']));
    await waitFor(() => first.out().includes('IN_FLIGHT 3'), 10_000, 'three tasks in flight on the first process');
    const second = start(token!);
    await waitFor(() => second.out().includes('READY'), 20_000, 'the second process to load');
    first.child.kill('SIGKILL');
    second.child.stdin?.write('go\n');
    await waitFor(() => second.out().includes('TOKEN'), 20_000, 'the restarted process to resume');
    assert.match(second.out(), new RegExp(`REGISTERED ${agentId} `), 'the same agent is resumed');
    await waitFor(
      async () => (await Promise.all(ids.map((id) => hive.getTask(id)))).every((t) => t['status'] === 'completed'),
      15_000,
      'the resumed process to complete the tasks',
    );
    for (const id of ids) {
      const t = await hive.getTask(id);
      assert.equal(t['assigned_agent'], agentId, 'the task stayed with its agent');
      assert.equal(Number(t['attempts']), 1, 'not requeued: still the first attempt');
      assert.ok(JSON.parse(String(t['result_json'])).resumed !== undefined);
    }
    second.child.kill('SIGKILL');
  });
});
