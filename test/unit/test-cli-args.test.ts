import assert from 'node:assert/strict';
import { parseCli } from '../../src/cli/args.js';

describe('command line', () => {
  const refused = (argv: string[], message: RegExp): void => {
    assert.throws(
      () => parseCli(argv),
      (err: Error & { code?: string }) => err.code === 'VALIDATION_FAILED' && message.test(err.message),
    );
  };

  it('parses the hub commands and their options', () => {
    assert.equal(parseCli([]).command, 'serve');
    assert.deepEqual(
      [parseCli(['backup', '--out', 'x.db']).command, parseCli(['backup', '--out', 'x.db']).file],
      ['backup', 'x.db'],
    );
    const r = parseCli(['restore', 'x.db', '--force', '--config', 'c.toml']);
    assert.deepEqual([r.command, r.file, r.force, r.configFile], ['restore', 'x.db', true, 'c.toml']);
    assert.deepEqual(parseCli(['users', 'add', 'alice', '--role', 'operator']).users, {
      action: 'add',
      name: 'alice',
      roles: ['operator'],
    });
  });

  it('parses the operator commands', () => {
    const list = parseCli([
      'tasks',
      'list',
      '--status',
      'dead',
      '--limit',
      '20',
      '--json',
      '--url',
      'http://h:1',
    ]).client!;
    assert.deepEqual(
      [list.resource, list.action, list.status, list.limit, list.json, list.url],
      ['tasks', 'list', 'dead', 20, true, 'http://h:1'],
    );
    assert.deepEqual(
      [
        parseCli(['tasks', 'cancel', 'ID', '--reason', 'r']).client!.id,
        parseCli(['tasks', 'cancel', 'ID', '--reason', 'r']).client!.reason,
      ],
      ['ID', 'r'],
    );
    assert.equal(parseCli(['tasks', 'redrive', '--all']).client!.all, true);
    assert.equal(parseCli(['modules', 'restart', 'task_management']).client!.id, 'task_management');
    assert.equal(parseCli(['status', '--api-key', 'k']).client!.apiKey, 'k');
  });

  it('refuses what a command does not take, naming it', () => {
    refused(['backup'], /backup: expected --out FILE/);
    refused(['restore'], /restore: expected one backup FILE/);
    refused(['restore', 'a', 'b'], /restore: expected one backup FILE/);
    refused(['migrate', '--out', 'x'], /--out is not an option of `migrate`/);
    refused(['--force'], /--force is not an option of starting the hub/);
    refused(['tasks', 'list', '--config', 'x'], /--config is not an option of operator commands/);
    refused(['tasks', 'show'], /tasks: expected list, show ID, explain ID, cancel ID, retry ID, redrive, got "show"/);
    refused(['agents', 'list', 'extra'], /agents: expected list, pause ID, resume ID, remove ID/);
    refused(['agents', 'list', '--reason', 'x'], /--reason is an option of `tasks cancel`/);
    refused(['tasks', 'redrive', '--all', '--limit', '3'], /--all and --limit exclude each other/);
    refused(['tasks', 'list', '--limit', 'ten'], /--limit expects a positive integer, got "ten"/);
    refused(['status', 'now'], /status takes no arguments/);
    refused(['frobnicate'], /unknown command "frobnicate"/);
    refused(['users', 'list', '--role', 'admin'], /--role is an option of `users add`, not of `users list`/);
  });
});
