/**
 * Real module actors on a real store, with a fault injected into the store:
 * the faulty module is restarted with backoff, escalates after too many crashes,
 * and the other modules keep answering throughout.
 */
import assert from 'node:assert/strict';
import { EventBus } from '../../src/runtime/index.js';
import { TaskEngine } from '../../src/engine/engine.js';
import { engineOptions } from '../../src/engine/types.js';
import { Sessions } from '../../src/engine/sessions.js';
import { BUILTIN_HANDLERS } from '../../actors/agent/executors.js';
import { Hive } from '../../actors/hive/hive.js';
import type { AgentManagementMsg } from '../../actors/agent-management/messages.js';
import type { TaskManagementMsg, TaskSummary } from '../../actors/task-distributor/messages.js';
import type { SwarmCoordinatorMsg, HiveStatus } from '../../actors/swarm-coordinator/messages.js';
import { loadConfig } from '../../src/config/index.js';
import { ActorCrashedError, ActorStoppedError } from '../../src/errors/index.js';
import type { Agent, NewTask, Task } from '../../src/domain/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import type { Page, Store } from '../../src/storage/index.js';
import { openSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { memoryLogger } from '../helpers/logs.js';
import { testSystem } from '../helpers/runtime.js';
import { waitFor } from '../helpers/wait-for.js';

/** A store whose listAgents throws a plain Error (a bug, not a HubError) while faults remain. */
function faultyStore(inner: Store): Store & { faults: number } {
  const state = { faults: 0 };
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'faults') return state.faults;
      if (prop === 'listAgents' && state.faults > 0) {
        return () => {
          state.faults--;
          return Promise.reject(new Error('injected storage fault'));
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
    set(_target, prop, value) {
      if (prop !== 'faults') return false;
      state.faults = value as number;
      return true;
    },
  }) as Store & { faults: number };
}

const task = (title: string): NewTask => ({
  title,
  description: '',
  type: 'general',
  priority: 'high',
  required_capabilities: [],
  payload: null,
  max_attempts: 3,
  timeout_ms: 1000,
  run_at: null,
  idempotency_key: null,
  depends_on: [],
});

describe('hive supervision', function () {
  this.timeout(20_000);
  let store: Store & { faults: number };
  let hive: Hive;
  let shutdown: () => Promise<void>;

  beforeEach(async () => {
    const inner = openSqliteStore(':memory:');
    await inner.migrate();
    store = faultyStore(inner);
    const { system } = testSystem({
      policy: { kind: 'restart', maxRestarts: 3, withinMs: 60_000, backoffInitialMs: 20, backoffMaxMs: 100 },
    });
    const config = loadConfig({ env: { HIVE_ENV: 'test' } });
    const handlers = new Map(Object.entries(BUILTIN_HANDLERS));
    const events = new EventBus();
    const log = memoryLogger().log;
    const sessions = new Sessions();
    hive = await Hive.start(system, {
      config,
      store,
      log,
      nodeId: 'n1',
      startedAt: new Date(),
      events,
      engine: new TaskEngine(engineOptions(config, { store, events, log, nodeId: 'n1', handlers, sessions })),
      sessions,
      handlers,
    });
    shutdown = async () => {
      hive.stopTimers();
      await system.shutdown();
      await inner.close();
    };
  });
  afterEach(() => shutdown());

  const listAgents = (): Promise<Page<Agent>> =>
    hive.ask(hive.modules.agent_management, (replyTo: ReplyTo<Page<Agent>>): AgentManagementMsg => ({
      type: 'agent.list',
      filter: { limit: 10, offset: 0 },
      replyTo,
    }));
  const submit = (title: string): Promise<{ task: Task; created: boolean }> =>
    hive.ask(hive.modules.task_management, (replyTo: ReplyTo<{ task: Task; created: boolean }>): TaskManagementMsg => ({
      type: 'task.submit',
      task: task(title),
      replyTo,
    }));
  const summary = (): Promise<TaskSummary> =>
    hive.ask(hive.modules.task_management, (replyTo: ReplyTo<TaskSummary>): TaskManagementMsg => ({
      type: 'task.summarize',
      replyTo,
    }));
  const moduleStatus = (name: string) => hive.status().find((m) => m.name === name)!;

  it('restarts a crashed module, which then serves again with state rebuilt from storage', async () => {
    store.faults = 1;
    await assert.rejects(listAgents(), ActorCrashedError);
    assert.equal((await listAgents()).total, 0);
    assert.equal(moduleStatus('agent_management').restarts, 1);
    assert.equal(moduleStatus('agent_management').last_error, 'injected storage fault');
  });

  it('escalates after too many crashes while the other modules keep answering', async () => {
    store.faults = 1000; // init's reload of agents fails too: a crash loop
    await assert.rejects(listAgents(), ActorCrashedError);
    let answered = 0;
    while (moduleStatus('agent_management').status !== 'failed') {
      await submit(`during-${answered}`);
      answered++;
    }
    assert.ok(answered > 0);
    assert.equal(moduleStatus('agent_management').restarts, 3);
    assert.equal(moduleStatus('hive').status, 'running');
    await assert.rejects(listAgents(), ActorStoppedError);
    const status = await hive
      .ask(hive.modules.swarm_coordinator, (replyTo: ReplyTo<HiveStatus>): SwarmCoordinatorMsg => ({
        type: 'hive.status',
        replyTo,
      }))
      .catch((e: unknown) => e);
    assert.ok(status instanceof ActorStoppedError, 'the hive status needs agent_management and says so');
    assert.equal((await summary()).by_status.pending, answered);
    store.faults = 0;
    hive.restartModule('agent_management');
    await waitFor(() => moduleStatus('agent_management').status === 'running');
    assert.equal((await listAgents()).total, 0);
  });

  it('loses no task when task_management is restarted or reset', async () => {
    for (let i = 0; i < 25; i++) await submit(`t${i}`);
    hive.restartModule('task_management');
    await waitFor(
      () => moduleStatus('task_management').restarts === 1 && moduleStatus('task_management').status === 'running',
    );
    assert.equal((await summary()).by_status.pending, 25);
    hive.resetModule('task_management');
    assert.equal((await summary()).by_status.pending, 25);
    assert.equal((await store.listTasks({ limit: 1, offset: 0 })).total, 25);
  });

  it('refuses an unknown module name', () => {
    assert.throws(() => hive.restartModule('nope'), /MODULE_NOT_FOUND|no module named "nope"/);
  });
});
