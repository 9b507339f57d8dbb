import assert from 'node:assert/strict';
import { Router } from '../../src/edge/router.js';
import { handleRequest, type RawRequest } from '../../src/edge/http-core.js';
import { decodeQuery, parseQuery } from '../../src/edge/query.js';
import { ok } from '../../src/edge/envelope.js';
import { RateWindow, SampleWindow } from '../../src/metrics/windows.js';
import { memoryLogger } from '../helpers/logs.js';

const noop = (): Promise<{ status: number; body: unknown }> => Promise.resolve({ status: 200, body: ok(null) });

describe('edge router', () => {
  const router = new Router()
    .add('GET', '/api/tasks/:id', 'one', noop)
    .add('GET', '/api/tasks/pending', 'pending', noop)
    .add('POST', '/api/tasks', 'submit', noop)
    .add('GET', '/api/tasks', 'list', noop);

  it('prefers static segments over parameters, whatever the order of registration', () => {
    const m = router.match('GET', '/api/tasks/pending');
    assert.ok(m && 'route' in m);
    assert.equal(m.route.pattern, '/api/tasks/pending');
    const p = router.match('GET', '/api/tasks/abc');
    assert.ok(p && 'route' in p);
    assert.deepEqual(p.params, { id: 'abc' });
  });

  it('tells which methods a known path accepts, and nothing for unknown paths', () => {
    assert.deepEqual(router.match('DELETE', '/api/tasks'), { allowed: ['POST', 'GET'] });
    assert.equal(router.match('GET', '/api/nothing'), undefined);
    assert.equal(router.match('GET', '/api/tasks/'), undefined);
  });

  it('refuses a route added twice', () => {
    assert.throws(() => router.add('GET', '/api/tasks', 'again', noop), /added twice/);
  });
});

describe('query validation', () => {
  const spec = {
    status: { kind: 'enum', values: ['a', 'b'] },
    flag: { kind: 'bool' },
    limit: { kind: 'int', min: 1, max: 1000 },
    offset: { kind: 'int', min: 0, max: 10 },
  } as const;
  it('parses typed values', () => {
    assert.deepEqual(parseQuery(new URLSearchParams('status=a&flag=true&limit=5&offset=0'), spec), {
      status: 'a',
      flag: true,
      limit: 5,
      offset: 0,
    });
  });
  it('refuses unknown, repeated, out-of-range and malformed values naming the parameter', () => {
    for (const [q, re] of [
      ['nope=1', /HubError: nope: unknown query parameter; known: status, flag, limit, offset$/],
      ['limit=1&limit=2', /HubError: limit: given more than once/],
      ['limit=1001', /HubError: limit: expected an integer from 1 to 1000/],
      ['limit=1e3', /HubError: limit: expected an integer/],
      ['flag=1', /HubError: flag: expected true or false/],
      ['status=c', /HubError: status: expected one of a, b/],
    ] as const) {
      assert.throws(() => parseQuery(new URLSearchParams(q), spec), re, q);
    }
  });
});

describe('query decoding (for src/api, which validates)', () => {
  const spec = { status: 'string', limit: 'int' } as const;
  it('turns integers into numbers and leaves anything else to the API', () => {
    assert.deepEqual(decodeQuery(new URLSearchParams('status=x&limit=5'), spec), { status: 'x', limit: 5 });
    assert.deepEqual(decodeQuery(new URLSearchParams('limit=1e3'), spec), { limit: '1e3' });
  });
  it('refuses unknown and repeated parameters, naming them', () => {
    assert.throws(
      () => decodeQuery(new URLSearchParams('nope=1'), spec),
      /nope: unknown query parameter; known: status, limit$/,
    );
    assert.throws(() => decodeQuery(new URLSearchParams('limit=1&limit=2'), spec), /limit: given more than once/);
  });
});

describe('request handling core', () => {
  const router = new Router().add('POST', '/echo', 'echo', (req) =>
    Promise.resolve({ status: 200, body: ok(req.body) }),
  );
  const raw = (over: Partial<RawRequest>): RawRequest => ({
    method: 'POST',
    path: '/echo',
    query: '',
    headers: { 'content-type': 'application/json' },
    body: Buffer.from('{"a":1}'),
    ...over,
  });
  const opts = { log: memoryLogger().log, corsOrigins: ['https://ok.example'] };

  it('decodes JSON bodies and wraps the answer with security headers', async () => {
    const r = await handleRequest(router, raw({}), opts);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body).data, { a: 1 });
    assert.ok(r.headers.some(([k, v]) => k === 'x-frame-options' && v === 'DENY'));
  });

  it('refuses other media types with 415 and malformed JSON with 400', async () => {
    assert.equal((await handleRequest(router, raw({ headers: { 'content-type': 'text/plain' } }), opts)).status, 415);
    const bad = await handleRequest(router, raw({ body: Buffer.from('{') }), opts);
    assert.equal(bad.status, 400);
    assert.match(JSON.parse(bad.body).error.message, /^\(body\): malformed JSON/);
    assert.equal(
      (await handleRequest(router, raw({ headers: { 'content-type': 'application/vnd.api+json' } }), opts)).status,
      200,
    );
  });

  it('answers preflights for allowed origins only', async () => {
    const pre = await handleRequest(
      router,
      raw({ method: 'OPTIONS', headers: { origin: 'https://ok.example' }, body: Buffer.alloc(0) }),
      opts,
    );
    assert.equal(pre.status, 204);
    assert.ok(pre.headers.some(([k, v]) => k === 'access-control-allow-origin' && v === 'https://ok.example'));
    const other = await handleRequest(
      router,
      raw({ method: 'OPTIONS', headers: { origin: 'https://evil.example' }, body: Buffer.alloc(0) }),
      opts,
    );
    assert.equal(other.status, 405);
  });

  it('hides the message of an internal error', async () => {
    const failing = new Router().add('GET', '/x', 'x', () => Promise.reject(new Error('secret detail')));
    const r = await handleRequest(failing, raw({ method: 'GET', path: '/x', body: Buffer.alloc(0) }), opts);
    assert.equal(r.status, 500);
    assert.doesNotMatch(r.body, /secret detail/);
    assert.equal(JSON.parse(r.body).error.code, 'INTERNAL');
  });
});

describe('metric windows', () => {
  it('counts a rate over the last seconds only', () => {
    let now = 1_000_000;
    const w = new RateWindow(10, () => now);
    for (let i = 0; i < 50; i++) w.record();
    assert.equal(w.rate(), 5);
    now += 11_000;
    assert.equal(w.rate(), 0);
  });

  it('keeps the last samples for mean and percentiles', () => {
    const w = new SampleWindow(4);
    for (const v of [100, 1, 2, 3, 4]) w.record(v);
    assert.equal(w.count, 4);
    assert.equal(w.mean(), 2.5);
    assert.equal(w.percentile(50), 2);
    assert.equal(w.percentile(99), 4);
  });
});
