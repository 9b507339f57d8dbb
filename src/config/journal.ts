import { fstatSync } from 'node:fs';

/**
 * True when stdout is systemd's journal stream: JOURNAL_STREAM holds the
 * "device:inode" of the stream systemd connected, and it must be stdout itself
 * (not a pipe the hub's stdout was redirected to). Then log records carry the
 * syslog priority prefix (`<3>` …) that journald turns into PRIORITY.
 */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const stream = env['JOURNAL_STREAM'];
  if (stream === undefined || stream === '') return false;
  try {
    const st = fstatSync(1);
    return stream === `${st.dev}:${st.ino}`;
  } catch {
    return false; // no stdout to inspect: no prefix
  }
}
