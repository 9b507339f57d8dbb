/**
 * Logs as operators read them: [logging] file with the same JSON lines as stdout,
 * reopened on SIGHUP after logrotate moved it; the journald priority prefix only
 * on stdout; no key twice in any record.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  chmodSync,
  mkdirSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, hubEnv, logRecords, runCli, startHub } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait-for.js';

describe('logs', function () {
  this.timeout(40_000);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'hub-logs-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('[logging] file gets the same records as stdout and is reopened on SIGHUP (logrotate)', async () => {
    const file = path.join(tmp, 'log', 'hub.log');
    const hub = await startHub(
      [],
      hubEnv({
        HIVE_DATABASE_DATA_DIR: path.join(tmp, 'data'),
        HIVE_SERVER_HOST: '127.0.0.1',
        HIVE_LOGGING_FILE: file,
      }),
    );
    let first: Array<Record<string, unknown>>;
    try {
      // The hub writes stdout first, then the file: the test may read between the two.
      await waitFor(() => readFileSync(file, 'utf8').includes('hub listening'), 5000, 'the start in the file');
      first = logRecords(readFileSync(file, 'utf8'));
      renameSync(file, `${file}.1`);
      hub.child.kill('SIGHUP');
      await waitFor(
        () => existsSync(file) && readFileSync(file, 'utf8').includes('"event":"log.reopened"'),
        5000,
        'the reopened file gets the SIGHUP record',
      );
      assert.ok(hub.child.exitCode === null, 'SIGHUP does not end the hub');
    } finally {
      assert.equal(await hub.stop(), 0);
    }
    const rotated = logRecords(readFileSync(file, 'utf8'));
    assert.ok(
      rotated.some((r) => r['msg'] === 'stopped'),
      'the stop is in the new file',
    );
    assert.ok(!readFileSync(`${file}.1`, 'utf8').includes('"msg":"stopped"'), 'nothing more went to the moved file');
    const stdout = logRecords(hub.output()).map((r) => r['msg']);
    for (const r of [...first, ...rotated])
      assert.ok(stdout.includes(r['msg']), `${String(r['msg'])} is on stdout too`);
  });

  it('prefixes stdout with the syslog priority when stdout is the journal, never the file', async () => {
    // systemd sets JOURNAL_STREAM to stdout's device:inode when it connects stdout to journald; here stdout is a file we own.
    const out = path.join(tmp, 'journal-stdout');
    const file = path.join(tmp, 'journal.log');
    const fd = openSync(out, 'w');
    const st = fstatSync(fd);
    const env = hubEnv({
      HIVE_DATABASE_DATA_DIR: path.join(tmp, 'j'),
      HIVE_SERVER_HOST: '127.0.0.1',
      HIVE_LOGGING_LEVEL: 'info',
      HIVE_LOGGING_FILE: file,
      JOURNAL_STREAM: `${st.dev}:${st.ino}`,
    });
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', fd, 'inherit'],
    });
    closeSync(fd);
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await waitFor(() => readFileSync(out, 'utf8').includes('hub listening'), 20_000, 'the hub to listen');
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    const lines = readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    assert.ok(lines.length > 2);
    for (const l of lines) assert.match(l, /^<[2-7]>\{"level":"/);
    assert.ok(
      lines.some((l) => l.startsWith('<4>{"level":"warn"')),
      'the security warning is priority 4',
    );
    assert.ok(lines.some((l) => l.startsWith('<6>{"level":"info"')));
    // What journald stores after stripping the prefix is the JSON record, strict.
    logRecords(`${lines.map((l) => l.replace(/^<\d>/, '')).join('\n')}\n`);
    const inFile = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    assert.equal(inFile.length, lines.length);
    for (const l of inFile) assert.ok(l.startsWith('{"level":"'), 'the file gets no prefix');
  });

  it('under the journal a start that fails says so at priority err (stderr) and fatal (the record)', async () => {
    const out = path.join(tmp, 'journal-failure');
    const fd = openSync(out, 'w');
    const st = fstatSync(fd);
    const env = hubEnv({ HIVE_SERVER_PROT: '1', JOURNAL_STREAM: `${st.dev}:${st.ino}` });
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    assert.equal(await new Promise<number | null>((resolve) => child.on('exit', resolve)), 1);
    const lines = readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    assert.ok(
      lines.some((l) => l.startsWith('<3>ai-orchestrator-hub: invalid configuration (1 problem)')),
      lines.join('\n'),
    );
    assert.ok(lines.some((l) => /^<3> {2}env HIVE_SERVER_PROT: /.test(l)));
    assert.ok(lines.some((l) => l.startsWith('<2>{"level":"fatal"')));
  });

  it('an unwritable log file fails --check and the start with its path', async function () {
    if (process.getuid?.() === 0 && os.platform() === 'linux') {
      // root writes anywhere: make the path impossible instead (a file where a directory is needed).
      writeFileSync(path.join(tmp, 'blocker'), 'x');
    } else {
      mkdirSync(path.join(tmp, 'blocker-dir'));
      chmodSync(path.join(tmp, 'blocker-dir'), 0o500);
    }
    const file =
      process.getuid?.() === 0 ? path.join(tmp, 'blocker', 'hub.log') : path.join(tmp, 'blocker-dir', 'hub.log');
    const env = hubEnv({
      HIVE_DATABASE_DATA_DIR: path.join(tmp, 'u'),
      HIVE_SERVER_HOST: '127.0.0.1',
      HIVE_LOGGING_FILE: file,
    });
    const check = await runCli(['--check'], env);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /^FAILED log file .*hub\.log \(\[logging\] file\) cannot be written/m);
    const start = await runCli([], env);
    assert.equal(start.code, 1);
    assert.match(start.stderr, /cannot open the log file .*hub\.log \(\[logging\] file\)/);
  });
});
