/**
 * The task engine under supervision, on both stores: a part that fails for a
 * reason other than an outage (claim, the group-commit writer, the lease keeper)
 * crashes the engine module, whose supervisor restarts it with backoff; every
 * task still completes, and no handler runs twice. Past the restart intensity
 * the module stays failed (no claims) until an operator restarts it.
 */
import assert from 'node:assert/strict';
import { hubStack, type HubStack } from '../../bench/lib/hub-stack.js';
import type { Handler } from '../../src/engine/handler.js';
import type { AgentManagementMsg, AgentView } from '../../actors/agent-management/messages.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import type { Store } from '../../src/storage/index.js';
import type { ModuleStatus } from '../../actors/hive/hive.js';
import { runModuleOp } from '../../actors/hive/module-ops.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait-for.js';
import { submitMany } from '../helpers/tasks.js';

type Method = 'claimTasks' | 'finishTasks' | 'extendLeases';

/**
 * Replaces a store method's answer while `fake` gives one (a bug in a part, not
 * an outage); otherwise the real method runs.
 */
function inject(store: Store, method: Method, fake: () => Promise<unknown> | undefined): void {
  const methods = store as unknown as Record<Method, (...args: unknown[]) => Promise<unknown>>;
  const original = methods[method].bind(store);
  methods[method] = (...args: unknown[]) => fake() ?? original(...args);
}

const failure = (method: Method): Promise<never> => Promise.reject(new Error(`injected ${method} failure`));

function supervisionSuite(engine: 'sqlite' | 'postgres'): void {
  describe(`engine supervision (${engine})`, function () {
    this.timeout(60_000);
    let db: TestDatabase | undefined;
    let stack: HubStack;
    const runs = new Map<string, number>();
    const counted: Handler = async (task) => {
      runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 2));
      return null;
    };

    beforeEach(async function () {
      if (engine === 'postgres') {
        await requirePostgres(this);
        db = await createTestDatabase();
      }
      const env: Record<string, string> = {
        HIVE_AGENTS_DEFAULT_POOL_SIZE: '0',
        HIVE_TASKS_LEASE_MS: '3000',
        HIVE_SUPERVISION_MAX_RESTARTS: '3',
        HIVE_SUPERVISION_BACKOFF_INITIAL_MS: '50',
        HIVE_LOGGING_LEVEL: 'fatal', // the faults are on purpose
      };
      if (db !== undefined) env['HIVE_DATABASE_URL'] = db.url;
      stack = await hubStack(env, { counted });
      runs.clear();
      for (const name of ['c-1', 'c-2'])
        await stack.hive.ask(
          stack.hive.modules.agent_management,
          (replyTo: ReplyTo<AgentView>): AgentManagementMsg => ({
            type: 'agent.register',
            agent: { name, type: 'worker', capabilities: [], executor: 'counted', kind: 'local', max_concurrency: 4 },
            replyTo,
          }),
        );
    });

    afterEach(async () => {
      await stack?.close();
      await db?.drop();
      db = undefined;
    });

    const submit = (n: number): Promise<string[]> => submitMany(stack.hive, n);
    const engineStatus = (): ModuleStatus => {
      const s = stack.hive.status().find((m) => m.name === 'engine');
      assert.ok(s !== undefined, 'the engine is a module of the hive');
      return s;
    };
    const completed = async (): Promise<number> => (await stack.store.countTasksByStatus()).completed;

    /** Every task completed, each handler ran exactly once. */
    const allRanOnce = async (ids: string[]): Promise<void> => {
      await waitFor(async () => (await completed()) === ids.length, 30_000, 'every task to complete');
      for (const id of ids) assert.equal(runs.get(id), 1, `task ${id} ran ${runs.get(id) ?? 0} times`);
    };

    it('restarts the engine after claims fail, and runs every task once', async () => {
      let failures = 2;
      inject(stack.store, 'claimTasks', () => (failures-- > 0 ? failure('claimTasks') : undefined));
      const ids = await submit(200);
      await allRanOnce(ids);
      const s = engineStatus();
      assert.equal(s.status, 'running');
      assert.ok(s.restarts >= 2, `restarts: ${s.restarts}`);
      assert.match(s.last_error ?? '', /claim failed: injected claimTasks failure/);
    });

    it('halts the writer on a failed group commit, keeps the ends in memory, and stores them after the restart', async () => {
      // A refused batch is split until the refusal stands alone (poison isolation), so what halts
      // the writer is a fault outside the database: here, an answer the writer cannot read.
      let failures = 2;
      inject(stack.store, 'finishTasks', () => (failures-- > 0 ? Promise.resolve({}) : undefined));
      const ids = await submit(100);
      await allRanOnce(ids);
      const s = engineStatus();
      assert.ok(s.restarts >= 2, `restarts: ${s.restarts}`);
      assert.match(s.last_error ?? '', /writer failed/);
    });

    it('marks the engine failed past its restart intensity (no claims) until an operator restarts it', async () => {
      let failing = true;
      inject(stack.store, 'extendLeases', () => (failing ? failure('extendLeases') : undefined));
      await waitFor(() => engineStatus().status === 'failed', 20_000, 'the engine to fail');
      const listed = (await runModuleOp(stack.hive, 'bench', { op: 'list' }))['modules'] as ModuleStatus[];
      assert.equal(listed.find((m) => m.name === 'engine')?.status, 'failed', '/api/modules shows it');
      const ids = await submit(20);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await completed(), 0, 'a failed engine takes no work (no claim, no hand-off)');
      failing = false;
      await runModuleOp(stack.hive, 'bench', { op: 'restart', name: 'engine' });
      await allRanOnce(ids);
      assert.equal(engineStatus().status, 'running');
    });
  });
}

supervisionSuite('sqlite');
supervisionSuite('postgres');
