import { fstatSync } from 'node:fs';

/**
 * True when stdout is systemd's journal stream: JOURNAL_STREAM holds the
 * "device:inode" of the stream systemd connected, and it must be stdout itself
 * (not a pipe the hub's stdout was redirected to). Then log records carry the
 * syslog priority prefix (`<3>` …) that journald turns into PRIORITY.
 */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  return isJournal(1, env);
}

/** The same for stderr (systemd's default StandardError=inherit makes it stdout's stream): failure lines get `<3>`. */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  return isJournal(2, env);
}

function isJournal(fd: number, env: NodeJS.ProcessEnv): boolean {
  const stream = env['JOURNAL_STREAM'];
  if (stream === undefined || stream === '') return false;
  try {
    const st = fstatSync(fd);
    return stream === `${st.dev}:${st.ino}`;
  } catch {
    return false; // nothing to inspect: no prefix
  }
}
