/**
 * One request contract for every transport: each bad input, sent over REST and
 * over gRPC to the same hub, gets the same stable code and names the same field
 * (both transports are codecs over src/api), and changes nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { hiveProto } from '../../src/grpc/proto.js';
import { MAX_ANALYZE_CHARS } from '../../src/domain/index.js';
import { ERROR_CODE_KEY, ERROR_FIELD_KEY } from '../../src/grpc/errors.js';
import { hubEnv, startHub, type RunningHub } from '../helpers/cli.js';
import { client, type Client } from '../helpers/http.js';

type Msg = Record<string, unknown>;
const UUID = '00000000-0000-4000-8000-000000000000';
const long = 'x'.repeat(513);
const task = (over: Msg = {}): Msg => ({ title: 't', ...over });

interface Case {
  name: string;
  rest: { method: 'GET' | 'POST'; path: string; body?: unknown };
  grpc: { method: string; req: Msg };
  code: string;
  field?: string;
}

const CASES: Case[] = [
  {
    name: 'a submission without a title',
    rest: { method: 'POST', path: '/api/tasks', body: { priority: 'high' } },
    grpc: { method: 'SubmitTask', req: { task: { priority: 'high' } } },
    code: 'VALIDATION_FAILED',
    field: 'title',
  },
  {
    name: 'an unknown priority',
    rest: { method: 'POST', path: '/api/tasks', body: task({ priority: 'urgent' }) },
    grpc: { method: 'SubmitTask', req: { task: task({ priority: 'urgent' }) } },
    code: 'VALIDATION_FAILED',
    field: 'priority',
  },
  {
    name: 'a dependency that is not a UUID',
    rest: { method: 'POST', path: '/api/tasks', body: task({ depends_on: ['nope'] }) },
    grpc: { method: 'SubmitTask', req: { task: task({ depends_on: ['nope'] }) } },
    code: 'VALIDATION_FAILED',
    field: 'depends_on[0]',
  },
  {
    name: 'an empty bulk submission',
    rest: { method: 'POST', path: '/api/tasks/bulk', body: { tasks: [] } },
    grpc: { method: 'SubmitTasks', req: { tasks: [] } },
    code: 'VALIDATION_FAILED',
    field: 'tasks',
  },
  {
    name: 'a bulk submission over 1,000 items',
    rest: { method: 'POST', path: '/api/tasks/bulk', body: { tasks: Array.from({ length: 1001 }, () => task()) } },
    grpc: { method: 'SubmitTasks', req: { tasks: Array.from({ length: 1001 }, () => task()) } },
    code: 'VALIDATION_FAILED',
    field: 'tasks',
  },
  {
    name: 'a bad item inside a bulk submission',
    rest: { method: 'POST', path: '/api/tasks/bulk', body: { tasks: [task(), task({ priority: 'urgent' })] } },
    grpc: { method: 'SubmitTasks', req: { tasks: [task(), task({ priority: 'urgent' })] } },
    code: 'VALIDATION_FAILED',
    field: 'tasks[1].priority',
  },
  {
    name: 'a task id that is not a UUID',
    rest: { method: 'GET', path: '/api/tasks/nope' },
    grpc: { method: 'GetTask', req: { id: 'nope' } },
    code: 'VALIDATION_FAILED',
    field: 'id',
  },
  {
    name: 'an explain of a task id that is not a UUID',
    rest: { method: 'GET', path: '/api/tasks/nope/explain' },
    grpc: { method: 'ExplainTask', req: { id: 'nope' } },
    code: 'VALIDATION_FAILED',
    field: 'id',
  },
  {
    name: 'a task that does not exist',
    rest: { method: 'GET', path: `/api/tasks/${UUID}` },
    grpc: { method: 'GetTask', req: { id: UUID } },
    code: 'TASK_NOT_FOUND',
  },
  {
    name: 'a list with an unknown status',
    rest: { method: 'GET', path: '/api/tasks?status=sleeping' },
    grpc: { method: 'ListTasks', req: { status: 'sleeping' } },
    code: 'VALIDATION_FAILED',
    field: 'status',
  },
  {
    name: 'a list with a limit over 1,000',
    rest: { method: 'GET', path: '/api/tasks?limit=1001' },
    grpc: { method: 'ListTasks', req: { limit: 1001 } },
    code: 'VALIDATION_FAILED',
    field: 'limit',
  },
  {
    name: 'a list by an agent id that is not a UUID',
    rest: { method: 'GET', path: '/api/tasks?agent=nope' },
    grpc: { method: 'ListTasks', req: { agent_id: 'nope' } },
    code: 'VALIDATION_FAILED',
    field: 'agent',
  },
  {
    name: 'a list by a capability that is not a name',
    rest: { method: 'GET', path: '/api/tasks?capability=no%20spaces' },
    grpc: { method: 'ListTasks', req: { capability: 'no spaces' } },
    code: 'VALIDATION_FAILED',
    field: 'capability',
  },
  {
    name: 'a cancel reason over 512 characters',
    rest: { method: 'POST', path: `/api/tasks/${UUID}/cancel`, body: { reason: long } },
    grpc: { method: 'CancelTask', req: { id: UUID, reason: long } },
    code: 'VALIDATION_FAILED',
    field: 'reason',
  },
  {
    name: 'a cancel of a task that does not exist',
    rest: { method: 'POST', path: `/api/tasks/${UUID}/cancel`, body: {} },
    grpc: { method: 'CancelTask', req: { id: UUID } },
    code: 'TASK_NOT_FOUND',
  },
  {
    name: 'an agent list with an unknown state',
    rest: { method: 'GET', path: '/api/agents?state=asleep' },
    grpc: { method: 'ListAgents', req: { state: 'asleep' } },
    code: 'VALIDATION_FAILED',
    field: 'state',
  },
  {
    name: 'an agent list with a limit over 1,000',
    rest: { method: 'GET', path: '/api/agents?limit=1001' },
    grpc: { method: 'ListAgents', req: { limit: 1001 } },
    code: 'VALIDATION_FAILED',
    field: 'limit',
  },
  {
    name: 'an empty text to analyse',
    rest: { method: 'POST', path: '/api/neural/analyze', body: { text: '' } },
    grpc: { method: 'AnalyzeText', req: { text: '' } },
    code: 'VALIDATION_FAILED',
    field: 'text',
  },
  {
    name: 'a text to analyse over the length limit',
    rest: { method: 'POST', path: '/api/neural/analyze', body: { text: 'x'.repeat(MAX_ANALYZE_CHARS + 1) } },
    grpc: { method: 'AnalyzeText', req: { text: 'x'.repeat(MAX_ANALYZE_CHARS + 1) } },
    code: 'VALIDATION_FAILED',
    field: 'text',
  },
];

/** A proto NewTask from a REST body (payload as payload_json, the wire's encoding). */
function protoTask(t: Msg): Msg {
  const { payload, ...rest } = t;
  return payload === undefined ? rest : { ...rest, payload_json: JSON.stringify(payload) };
}

function grpcRequest(c: Case): Msg {
  const r = c.grpc.req;
  if (c.grpc.method === 'SubmitTask') return { task: protoTask(r['task'] as Msg) };
  if (c.grpc.method === 'SubmitTasks') return { tasks: (r['tasks'] as Msg[]).map(protoTask) };
  return r;
}

describe('one request contract over REST and gRPC', function () {
  this.timeout(60_000);
  let tmp: string;
  let hub: RunningHub;
  let api: Client;
  let hive: grpc.Client;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-contract-'));
    hub = await startHub(
      [],
      hubEnv({ HIVE_DATABASE_DATA_DIR: tmp, HIVE_SERVER_HOST: '127.0.0.1', HIVE_AGENTS_DEFAULT_POOL_SIZE: '0' }),
    );
    api = client(hub.port);
    const m = /"grpc_port":(\d+)/.exec(hub.output());
    assert.ok(m, 'the hub logs its gRPC port');
    hive = new (hiveProto().HiveServiceClient)(`127.0.0.1:${m[1]}`, grpc.credentials.createInsecure());
  });

  after(async () => {
    hive?.close();
    if (hub !== undefined) assert.equal(await hub.stop(), 0);
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  const grpcError = (method: string, req: Msg): Promise<grpc.ServiceError> =>
    new Promise((resolve, reject) =>
      (hive as unknown as Record<string, (r: Msg, cb: (e: grpc.ServiceError | null) => void) => void>)[method]!(
        req,
        (err) => (err ? resolve(err) : reject(new Error(`${method} succeeded`))),
      ),
    );

  for (const c of CASES) {
    it(`${c.name}: ${c.code}${c.field !== undefined ? ` naming ${c.field}` : ''} on both`, async () => {
      const rest =
        c.rest.method === 'GET' ? await api.get(c.rest.path) : await api.post(c.rest.path, c.rest.body ?? {});
      assert.equal(rest.body.success, false, `REST ${c.rest.path} succeeded`);
      assert.equal(rest.body.error.code, c.code, `REST: ${rest.body.error.message}`);
      const g = await grpcError(c.grpc.method, grpcRequest(c));
      assert.equal(g.metadata.get(ERROR_CODE_KEY)[0], c.code, `gRPC: ${g.details}`);
      assert.equal(rest.body.error.details?.field, c.field, `REST: ${rest.body.error.message}`);
      assert.equal(g.metadata.get(ERROR_FIELD_KEY)[0], c.field, `gRPC: ${g.details}`);
      // The same rule, so the same words.
      assert.equal(g.details, rest.body.error.message);
    });
  }

  it('none of the refused requests stored anything', async () => {
    const listed = await api.get('/api/tasks');
    assert.equal(listed.body.data.total, 0);
  });
});
