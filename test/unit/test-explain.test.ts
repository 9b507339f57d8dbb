/** Why a task waits: every cause through explainTask, one row of the table each. */
import assert from 'node:assert/strict';
import {
  WAIT_CODES,
  explainTask,
  type Agent,
  type ExplainFacts,
  type Task,
  type WaitCode,
} from '../../src/domain/index.js';

const NOW = Date.parse('2026-12-02T10:00:00.000Z');

function task(over: Partial<Task> = {}): Task {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    title: 't',
    description: '',
    type: 'general',
    priority: 'medium',
    status: 'pending',
    required_capabilities: [{ name: 'writing', min_proficiency: 0.7 }],
    payload: null,
    result: null,
    error: null,
    assigned_agent: null,
    attempts: 0,
    max_attempts: 3,
    timeout_ms: 10_000,
    run_at: null,
    lease_owner: null,
    lease_expires_at: null,
    lease_epoch: 0,
    idempotency_key: null,
    created_at: '2026-12-02T09:00:00.000Z',
    updated_at: '2026-12-02T09:00:00.000Z',
    started_at: null,
    completed_at: null,
    claimed_at: null,
    inferred_capabilities: null,
    concurrency_keys: [],
    fairness_key: null,
    cost: null,
    usage: null,
    parent_id: null,
    wait_for: null,
    wake_at: null,
    checkpoint: null,
    resume: null,
    progress: null,
    schedule_id: null,
    ...over,
  };
}

function agent(name: string, over: Partial<Agent> = {}): Agent {
  return {
    id: `agent-${name}`,
    name,
    type: 'worker',
    state: 'idle',
    kind: 'local',
    executor: 'echo',
    capabilities: [{ name: 'writing', proficiency: 0.9 }],
    node_id: 'n1',
    stats: { tasks_completed: 0, tasks_failed: 0, success_rate: 1, average_duration_ms: 0 },
    paused: false,
    max_concurrency: 1,
    owner: null,
    created_at: '2026-12-02T09:00:00.000Z',
    updated_at: '2026-12-02T09:00:00.000Z',
    ...over,
  };
}

const facts = (over: Partial<ExplainFacts>): ExplainFacts => ({
  task: task(),
  dependencies: [],
  agents: [agent('w')],
  events: [],
  ahead: 0,
  now: NOW,
  ...over,
});

const CASES: Array<{ name: string; facts: ExplainFacts; code: WaitCode; says: RegExp; details?: object }> = [
  {
    name: 'running on an agent',
    facts: facts({ task: task({ status: 'running', assigned_agent: 'agent-w', lease_owner: 'n1' }) }),
    code: 'RUNNING',
    says: /running on agent agent-w of node n1/,
  },
  {
    name: 'ended',
    facts: facts({ task: task({ status: 'completed' }) }),
    code: 'FINISHED',
    says: /completed/,
  },
  {
    name: 'sleeping',
    facts: facts({
      task: task({ status: 'waiting', wait_for: { kind: 'timer' }, wake_at: '2026-12-02T11:00:00.000Z' }),
    }),
    code: 'WAITING_FOR_TIMER',
    says: /sleeps until 2026-12-02T11:00:00.000Z/,
  },
  {
    name: 'waiting for a signal',
    facts: facts({ task: task({ status: 'waiting', wait_for: { kind: 'signal', signal: 'go', timeout_ms: null } }) }),
    code: 'WAITING_FOR_SIGNAL',
    says: /the signal "go"/,
  },
  {
    name: 'waiting for approval',
    facts: facts({
      task: task({
        status: 'waiting',
        wait_for: { kind: 'signal', signal: 'approval', timeout_ms: 60_000 },
        wake_at: '2026-12-02T10:01:00.000Z',
      }),
    }),
    code: 'WAITING_FOR_APPROVAL',
    says: /approval \(it times out at 2026-12-02T10:01:00.000Z\)/,
  },
  {
    name: 'waiting for children',
    facts: facts({
      task: task({
        status: 'waiting',
        wait_for: { kind: 'children', children: 'all', on_child_failure: 'fail', child_retries: 1, timeout_ms: null },
      }),
    }),
    code: 'WAITING_FOR_CHILDREN',
    says: /all of its children/,
  },
  {
    name: 'an open dependency',
    facts: facts({
      dependencies: [
        { id: 'd1', status: 'completed' },
        { id: 'd2', status: 'running' },
      ],
    }),
    code: 'WAITING_FOR_DEPENDENCIES',
    says: /1 of its 2 dependencies.*d2 \(running\)/,
    details: { waiting_for: [{ id: 'd2', status: 'running' }] },
  },
  {
    name: 'run_at later',
    facts: facts({ task: task({ run_at: '2026-12-02T10:01:00.000Z' }) }),
    code: 'SCHEDULED',
    says: /runs at 2026-12-02T10:01:00.000Z/,
    details: { run_at: '2026-12-02T10:01:00.000Z', seconds_left: 60 },
  },
  {
    name: 'a retry in its backoff',
    facts: facts({
      task: task({
        run_at: '2026-12-02T10:00:05.000Z',
        attempts: 1,
        error: { code: 'TASK_FAILED', message: 'x', retryable: true },
      }),
      events: [{ from_status: 'running', to_status: 'pending', node_id: 'n1', detail: { reason: 'retry' } }],
    }),
    code: 'RETRY_BACKOFF',
    says: /attempt 1 failed \(TASK_FAILED\)/,
  },
  {
    name: 'released by a node that could not place it',
    facts: facts({
      task: task({ run_at: '2026-12-02T10:00:05.000Z' }),
      events: [
        { from_status: 'assigned', to_status: 'pending', node_id: 'n2', detail: { reason: 'no single local agent' } },
      ],
    }),
    code: 'RELEASED',
    says: /node n2 claimed it and gave it back \(no single local agent\); it can be claimed again at/,
  },
  {
    name: 'no agent has the capability',
    facts: facts({ task: task({ required_capabilities: [{ name: 'translation', min_proficiency: 0.5 }] }) }),
    code: 'NO_CAPABLE_AGENT',
    says: /"translation" \(no agent has it\)/,
    details: { unmet: [{ capability: 'translation', min_proficiency: 0.5, best_proficiency: null }] },
  },
  {
    name: 'agents have it below the proficiency',
    facts: facts({ agents: [agent('w', { capabilities: [{ name: 'writing', proficiency: 0.4 }] })] }),
    code: 'NO_CAPABLE_AGENT',
    says: /"writing" at proficiency >= 0.7 \(the best agent has 0.4\)/,
  },
  {
    name: 'every capable agent paused, failed or offline',
    facts: facts({
      agents: [agent('p', { paused: true }), agent('f', { state: 'failed' }), agent('o', { state: 'offline' })],
    }),
    code: 'CAPABLE_AGENTS_UNAVAILABLE',
    says: /p \(paused\), f \(failed\), o \(offline\)/,
  },
  {
    name: 'a concurrency key at its limit',
    facts: facts({
      task: task({ concurrency_keys: ['tenant:acme'] }),
      flow: { code: 'CONCURRENCY_LIMIT', key: 'tenant:acme', running: 5, limit: 5, ahead: 7 },
    }),
    code: 'CONCURRENCY_LIMIT',
    says: /concurrency key "tenant:acme" is at its limit: 5 of 5 tasks hold it; 7 of its waiting tasks come first/,
    details: { code: 'CONCURRENCY_LIMIT', key: 'tenant:acme', running: 5, limit: 5, ahead: 7, until: null },
  },
  {
    name: 'a rate limit',
    facts: facts({
      task: task({ concurrency_keys: ['api'] }),
      flow: { code: 'RATE_LIMITED', key: 'api', bucket: 'rate', level: 0.2, need: 1, until: NOW + 40 },
    }),
    code: 'RATE_LIMITED',
    says: /concurrency key "api" is rate limited; its next dispatch is possible at 2026-12-02T10:00:00.040Z/,
  },
  {
    name: 'a token budget out of tokens',
    facts: facts({
      task: task({ concurrency_keys: ['llm'], cost: { tokens: 1000 } }),
      flow: {
        code: 'BUDGET_EXHAUSTED',
        key: 'llm',
        bucket: 'tokens/minute',
        level: 250,
        need: 1000,
        until: NOW + 4500,
      },
    }),
    code: 'BUDGET_EXHAUSTED',
    says: /"llm" is out of budget \(tokens\/minute: needs 1000, holds 250\); it holds enough at 2026-12-02T10:00:04.500Z/,
  },
  {
    name: 'ready, its tenant waiting its turn',
    facts: facts({ fair: { tenant: 'b', weight: 1, position: 2, tenants: 3 } }),
    code: 'FAIR_SHARE',
    says: /tenant "b" \(weight 1\) is 2 of 3 tenants/,
  },
  {
    name: 'ready, its tenant next in fair order',
    facts: facts({ ahead: 3, fair: { tenant: 'a', weight: 3, position: 1, tenants: 3 } }),
    code: 'READY',
    says: /3 ready tasks come first/,
  },
  {
    name: 'ready, with tasks ahead of it',
    facts: facts({ ahead: 12, agents: [agent('w'), agent('p', { paused: true })] }),
    code: 'READY',
    says: /12 ready tasks come first/,
    details: { ahead: 12, capable_agents: 1 },
  },
];

describe('explain: why a task is not running', () => {
  for (const c of CASES) {
    it(`${c.name}: ${c.code}`, () => {
      const e = explainTask(c.facts);
      assert.equal(e.code, c.code);
      assert.match(e.message, c.says);
      if (c.details !== undefined) assert.deepEqual(e.details, c.details);
    });
  }

  it('checks dependencies before run_at, and run_at before agents', () => {
    const all = facts({
      dependencies: [{ id: 'd', status: 'pending' }],
      task: task({ run_at: '2026-12-02T11:00:00.000Z', required_capabilities: [{ name: 'x', min_proficiency: 1 }] }),
    });
    assert.equal(explainTask(all).code, 'WAITING_FOR_DEPENDENCIES');
    assert.equal(explainTask({ ...all, dependencies: [] }).code, 'SCHEDULED');
  });

  it('checks agents before flow rules, and flow rules before fair share', () => {
    const both = facts({
      flow: { code: 'CONCURRENCY_LIMIT', key: 'k', running: 1, limit: 1 },
      fair: { tenant: 'b', weight: 1, position: 2, tenants: 2 },
    });
    assert.equal(explainTask({ ...both, agents: [] }).code, 'NO_CAPABLE_AGENT');
    assert.equal(explainTask(both).code, 'CONCURRENCY_LIMIT');
    assert.equal(explainTask({ ...both, flow: undefined }).code, 'FAIR_SHARE');
  });

  it('covers every wait code in the table', () => {
    const covered = new Set(CASES.map((c) => c.code));
    for (const code of WAIT_CODES) assert.ok(covered.has(code), `no case for ${code}`);
  });
});
