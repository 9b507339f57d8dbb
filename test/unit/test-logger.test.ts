import assert from 'node:assert/strict';
import { memoryLogger } from '../helpers/logs.js';
import { redactUrl } from '../../src/log/redact.js';

describe('logger', () => {
  it('writes the level as a label and node_id on every record', () => {
    const { log, records } = memoryLogger();
    log.child({ module: 'x' }).error('boom');
    assert.equal(records[0]?.['level'], 'error');
    assert.equal(records[0]?.['node_id'], 'test-node');
    assert.equal(records[0]?.['module'], 'x');
  });

  it('redacts secrets in fields, headers, messages and errors', () => {
    const { log, records } = memoryLogger();
    log.info({ security: { jwt_secret: 'topsecret' }, password: 'hunter2', headers: { authorization: 'Bearer abc' } }, 'connecting to postgres://u:pw123@db/x');
    log.error({ err: new Error('failed for postgresql://u:pw456@db/x') }, 'oops');
    const text = JSON.stringify(records);
    for (const secret of ['topsecret', 'hunter2', 'Bearer abc', 'pw123', 'pw456']) assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
    assert.match(text, /postgres:\/\/u:\*\*\*@db\/x/);
  });

  it('hides the password of a URL and leaves others alone', () => {
    assert.equal(redactUrl('postgres://a:b@h:5432/d'), 'postgres://a:***@h:5432/d');
    assert.equal(redactUrl('postgres://a@h/d'), 'postgres://a@h/d');
  });
});
