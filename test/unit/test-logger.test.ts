import assert from 'node:assert/strict';
import { memoryLogger } from '../helpers/logs.js';
import { fstatSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { redactUrl } from '../../src/log/redact.js';
import { createLogger, withPriority } from '../../src/log/logger.js';
import { stdoutIsJournal } from '../../src/config/index.js';

describe('logger', () => {
  it('writes the level as a label and node_id on every record', () => {
    const { log, records } = memoryLogger();
    log.child({ module: 'x' }).error('boom');
    assert.equal(records[0]?.['level'], 'error');
    assert.equal(records[0]?.['node_id'], 'test-node');
    assert.equal(records[0]?.['module'], 'x');
  });

  it('never writes a key twice: a bound key repeated in a record is dropped, a different value kept aside', () => {
    const { log, records } = memoryLogger();
    const security = log.child({ module: 'security' });
    security.info({ module: 'security', event: 'x' }, 'same');
    security.info({ module: 'storage', node_id: 'other', level: 'loud', msg: 'inner' }, 'different');
    log.info({ module: 'edge' }, 'root');
    // memoryLogger parses strictly: a duplicate key would have thrown above.
    assert.equal(records.length, 3);
    assert.equal(records[0]?.['module'], 'security');
    assert.deepEqual(
      [
        records[1]?.['module'],
        records[1]?.['module_field'],
        records[1]?.['node_id_field'],
        records[1]?.['level'],
        records[1]?.['level_field'],
        records[1]?.['msg_field'],
      ],
      ['security', 'storage', 'other', 'info', 'loud', 'inner'],
    );
    assert.equal(records[2]?.['module'], 'edge');
  });

  it('redacts secrets in fields, headers, messages and errors', () => {
    const { log, records } = memoryLogger();
    log.info(
      { security: { jwt_secret: 'topsecret' }, password: 'hunter2', headers: { authorization: 'Bearer abc' } },
      'connecting to postgres://u:pw123@db/x',
    );
    log.error({ err: new Error('failed for postgresql://u:pw456@db/x') }, 'oops');
    const text = JSON.stringify(records);
    for (const secret of ['topsecret', 'hunter2', 'Bearer abc', 'pw123', 'pw456'])
      assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
    assert.match(text, /postgres:\/\/u:\*\*\*@db\/x/);
  });

  it('hides the password of a URL and leaves others alone', () => {
    assert.equal(redactUrl('postgres://a:b@h:5432/d'), 'postgres://a:***@h:5432/d');
    assert.equal(redactUrl('postgres://a@h/d'), 'postgres://a@h/d');
  });

  it('prefixes each record with its syslog priority under journald, keeping the JSON intact', () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (d: Buffer) =>
      lines.push(
        ...d
          .toString()
          .split('\n')
          .filter((l) => l !== ''),
      ),
    );
    const log = createLogger({ level: 'debug', nodeId: 'n', destination: out, journald: true });
    log.fatal('f');
    log.error('e');
    log.warn('w');
    log.info('i');
    log.debug('d');
    assert.deepEqual(
      lines.map((l) => l.slice(0, 3)),
      ['<2>', '<3>', '<4>', '<6>', '<7>'],
    );
    for (const l of lines) assert.equal(typeof (JSON.parse(l.slice(3)) as { level: string }).level, 'string');
    assert.equal(withPriority('not a record'), '<6>not a record');
  });

  it('writes no prefix when stdout is not the journal stream', () => {
    assert.equal(stdoutIsJournal({}), false);
    assert.equal(stdoutIsJournal({ JOURNAL_STREAM: '1:2' }), false);
    const st = fstatSync(1);
    assert.equal(stdoutIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }), true);
  });
});
