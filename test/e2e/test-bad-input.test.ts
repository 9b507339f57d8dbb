/** Bad input gets a 4xx with a stable code and a message naming the field, and changes nothing. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ERROR_CODES } from '../../src/errors/index.js';
import { hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { client, type Client } from '../helpers/http.js';

interface Case {
  name: string;
  method: string;
  path: string | ((ids: { agent: string }) => string);
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  code: string;
  field?: string;
}

const big = 'x'.repeat(1_100_000);

const CASES: Case[] = [
  {
    name: 'malformed JSON',
    method: 'POST',
    path: '/api/tasks',
    body: '{"title": ',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: '(body)',
  },
  {
    name: 'JSON that is not an object',
    method: 'POST',
    path: '/api/tasks',
    body: [1, 2],
    status: 400,
    code: 'VALIDATION_FAILED',
    field: '(body)',
  },
  {
    name: 'wrong type for title',
    method: 'POST',
    path: '/api/tasks',
    body: { title: 5 },
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'title',
  },
  {
    name: 'missing title',
    method: 'POST',
    path: '/api/tasks',
    body: {},
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'title',
  },
  {
    name: 'unknown field',
    method: 'POST',
    path: '/api/tasks',
    body: { title: 't', colour: 'red' },
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'colour',
  },
  {
    name: 'bad priority',
    method: 'POST',
    path: '/api/tasks',
    body: { title: 't', priority: 'urgent' },
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'priority',
  },
  {
    name: 'capabilities not an array',
    method: 'POST',
    path: '/api/tasks',
    body: { title: 't', required_capabilities: 'code' },
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'required_capabilities',
  },
  {
    name: 'proficiency out of range',
    method: 'POST',
    path: '/api/tasks',
    body: { title: 't', required_capabilities: [{ name: 'a', min_proficiency: 2 }] },
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'required_capabilities[0].min_proficiency',
  },
  {
    name: 'negative timeout',
    method: 'POST',
    path: '/api/tasks',
    body: { title: 't', timeout_ms: -1 },
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'timeout_ms',
  },
  {
    name: 'bad run_at',
    method: 'POST',
    path: '/api/tasks',
    body: { title: 't', run_at: 'yesterday' },
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'run_at',
  },
  {
    name: 'oversized body',
    method: 'POST',
    path: '/api/tasks',
    body: { title: 't', payload: big },
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'not JSON content type',
    method: 'POST',
    path: '/api/tasks',
    body: 'title=t',
    headers: { 'content-type': 'text/plain' },
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    field: 'Content-Type',
  },
  {
    name: 'idempotency key too long',
    method: 'POST',
    path: '/api/tasks',
    body: { title: 't' },
    headers: { 'Idempotency-Key': 'k'.repeat(300) },
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'Idempotency-Key',
  },
  {
    name: 'task id not a UUID',
    method: 'GET',
    path: '/api/tasks/not-a-uuid',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'id',
  },
  { name: 'task id unknown', method: 'GET', path: `/api/tasks/${randomUUID()}`, status: 404, code: 'TASK_NOT_FOUND' },
  {
    name: 'cancel unknown task',
    method: 'POST',
    path: `/api/tasks/${randomUUID()}/cancel`,
    status: 404,
    code: 'TASK_NOT_FOUND',
  },
  {
    name: 'cancel with a bad reason',
    method: 'POST',
    path: `/api/tasks/${randomUUID()}/cancel`,
    body: { reason: 5 },
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'reason',
  },
  {
    name: 'retry unknown task',
    method: 'POST',
    path: `/api/tasks/${randomUUID()}/retry`,
    status: 404,
    code: 'TASK_NOT_FOUND',
  },
  {
    name: 'bad status filter',
    method: 'GET',
    path: '/api/tasks?status=weird',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'status',
  },
  {
    name: 'limit zero',
    method: 'GET',
    path: '/api/tasks?limit=0',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'limit',
  },
  {
    name: 'limit not a number',
    method: 'GET',
    path: '/api/tasks?limit=abc',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'limit',
  },
  {
    name: 'limit too large',
    method: 'GET',
    path: '/api/agents?limit=100000',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'limit',
  },
  {
    name: 'unknown query parameter',
    method: 'GET',
    path: '/api/tasks?colour=red',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'colour',
  },
  {
    name: 'repeated query parameter',
    method: 'GET',
    path: '/api/tasks?limit=1&limit=2',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'limit',
  },
  {
    name: 'agent filter not a UUID',
    method: 'GET',
    path: '/api/tasks?agent=bob',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'agent',
  },
  {
    name: 'since not an instant',
    method: 'GET',
    path: '/api/tasks?since=yesterday',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'since',
  },
  {
    name: 'until not an instant',
    method: 'GET',
    path: '/api/tasks?until=2026-13-45T99:00:00Z',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'until',
  },
  {
    name: 'unknown sort column',
    method: 'GET',
    path: '/api/tasks?sort=cost',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'sort',
  },
  {
    name: 'title text too long',
    method: 'GET',
    path: '/api/tasks?q=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'q',
  },
  {
    name: 'error code not a name',
    method: 'GET',
    path: '/api/tasks?error_code=%20boom',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'error_code',
  },
  {
    name: 'dead-letter view of another status',
    method: 'GET',
    path: '/api/tasks/errors?status=completed',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'status',
  },
  {
    name: 'dead-letter view limit too large',
    method: 'GET',
    path: '/api/tasks/errors?limit=5000',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'limit',
  },
  {
    name: 'fit of a task id that is not a UUID',
    method: 'GET',
    path: '/api/tasks/nope/fit',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'id',
  },
  {
    name: 'query on a route that takes none',
    method: 'GET',
    path: '/metrics?verbose=1',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'verbose',
  },
  {
    name: 'query on a module restart',
    method: 'POST',
    path: '/api/modules/task_management/restart?force=true',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'force',
  },
  {
    name: 'bad detailed flag',
    method: 'GET',
    path: '/health?detailed=yes',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'detailed',
  },
  {
    name: 'unknown executor',
    method: 'POST',
    path: '/api/agents',
    body: { name: 'a', executor: 'quantum' },
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'executor',
  },
  {
    name: 'bad capability name',
    method: 'POST',
    path: '/api/agents',
    body: { name: 'a', capabilities: [{ name: 'bad name!' }] },
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'capabilities[0].name',
  },
  {
    name: 'max_concurrency zero',
    method: 'POST',
    path: '/api/agents',
    body: { name: 'a', max_concurrency: 0 },
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'max_concurrency',
  },
  {
    name: 'bad agent state filter',
    method: 'GET',
    path: '/api/agents?state=sleepy',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'state',
  },
  {
    name: 'empty agent patch',
    method: 'PATCH',
    path: (ids) => `/api/agents/${ids.agent}`,
    body: {},
    status: 400,
    code: 'VALIDATION_FAILED',
    field: '(body)',
  },
  {
    name: 'agent patch with a stat',
    method: 'PATCH',
    path: (ids) => `/api/agents/${ids.agent}`,
    body: { stats: {} },
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'stats',
  },
  {
    name: 'delete unknown agent',
    method: 'DELETE',
    path: `/api/agents/${randomUUID()}`,
    status: 404,
    code: 'AGENT_NOT_FOUND',
  },
  {
    name: 'pause unknown agent',
    method: 'POST',
    path: `/api/agents/${randomUUID()}/pause`,
    status: 404,
    code: 'AGENT_NOT_FOUND',
  },
  {
    name: 'empty bulk',
    method: 'POST',
    path: '/api/tasks/bulk',
    body: { tasks: [] },
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'tasks',
  },
  {
    name: 'bulk with one bad item',
    method: 'POST',
    path: '/api/tasks/bulk',
    body: { tasks: [{ title: 'ok' }, { title: '' }] },
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'tasks[1].title',
  },
  {
    name: 'assign without agent_id',
    method: 'POST',
    path: '/api/tasks/assign',
    body: { task_id: randomUUID() },
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'agent_id',
  },
  {
    name: 'assign unknown task',
    method: 'POST',
    path: '/api/tasks/assign',
    body: { task_id: randomUUID(), agent_id: randomUUID() },
    status: 404,
    code: 'TASK_NOT_FOUND',
  },
  {
    name: 'restart unknown module',
    method: 'POST',
    path: '/api/modules/nope/restart',
    status: 404,
    code: 'MODULE_NOT_FOUND',
  },
  {
    name: 'wrong method',
    method: 'PUT',
    path: '/api/tasks',
    body: { title: 't' },
    status: 405,
    code: 'METHOD_NOT_ALLOWED',
  },
  { name: 'unknown route', method: 'GET', path: '/api/nothing-here', status: 404, code: 'NOT_FOUND' },
  {
    name: 'broken percent-encoding',
    method: 'GET',
    path: '/api/tasks/%E0%A4%A',
    status: 400,
    code: 'VALIDATION_FAILED',
    field: 'id',
  },
];

describe('bad input', function () {
  this.timeout(60_000);
  let tmp: string;
  let hub: RunningHub;
  let api: Client;
  let agentId: string;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-bad-'));
    hub = await startHub(
      [],
      hubEnv({ HIVE_DATABASE_DATA_DIR: tmp, HIVE_SERVER_HOST: '127.0.0.1', HIVE_AGENTS_DEFAULT_POOL_SIZE: '2' }),
    );
    api = client(hub.port);
    agentId = (await api.get('/api/agents')).body.data.agents[0].id;
    await api.post('/api/tasks', { title: 'existing' });
  });

  after(async () => {
    if (hub !== undefined) assert.equal(await hub.stop(), 0);
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  /** Everything an operator can see of the stored state. */
  async function snapshot(): Promise<unknown> {
    const tasks = (await api.get('/api/tasks?limit=1000')).body.data.tasks.map((t: any) => [
      t.id,
      t.status,
      t.updated_at,
    ]);
    const agents = (await api.get('/api/agents?limit=1000')).body.data.agents.map((a: any) => [
      a.id,
      a.name,
      a.paused,
      a.capabilities,
      a.max_concurrency,
    ]);
    return { tasks, agents };
  }

  it('answers every case of the table with its status, code and field, and changes nothing', async () => {
    // Let the existing task finish so that the snapshot is stable.
    for (let i = 0; i < 200 && (await api.get('/api/tasks?status=completed')).body.data.total < 1; i++)
      await new Promise((r) => setTimeout(r, 20));
    const before = await snapshot();
    for (const c of CASES) {
      const p = typeof c.path === 'string' ? c.path : c.path({ agent: agentId });
      const r = await api.call(c.method, p, c.body, c.headers);
      assert.equal(r.status, c.status, `${c.name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.success, false, c.name);
      assert.equal(r.body.error.code, c.code, c.name);
      assert.equal(
        ERROR_CODES[c.code as keyof typeof ERROR_CODES].http,
        c.status,
        `${c.name}: the error table maps ${c.code} to ${c.status}`,
      );
      assert.ok(typeof r.body.error.message === 'string' && r.body.error.message.length > 0, c.name);
      assert.ok(!/\n\s+at /.test(r.body.error.message), `${c.name}: no stack trace`);
      if (c.field !== undefined) {
        assert.equal(r.body.error.details?.field, c.field, `${c.name}: ${r.body.error.message}`);
        assert.ok(
          r.body.error.message.startsWith(c.field),
          `${c.name}: the message names the field: ${r.body.error.message}`,
        );
      }
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', c.name);
    }
    assert.deepEqual(await snapshot(), before);
    assert.equal((await api.get('/health')).body.data.status, 'healthy');
  });

  it('says which methods a route accepts', async () => {
    const r = await api.call('PUT', '/api/tasks');
    assert.equal(r.headers.get('allow'), 'GET, POST');
  });
});
