/** How the process reports a failure: one clear line on stderr (priority err under systemd), exit code 1. */
import type { ConfigError } from '../config/index.js';
import { formatProblem, stderrIsJournal, stdoutIsJournal } from '../config/index.js';
import { toHubError } from '../errors/index.js';
import { withPriority, type Logger } from '../log/logger.js';

/** Under systemd, stderr lines carry priority err, so that `journalctl -p err` shows why a start failed. */
const ERR_PREFIX = stderrIsJournal() ? '<3>' : '';

/** One clear line on stderr (and, when a logger exists, a fatal log record); exit code 1. */
export function fail(err: unknown, log?: Logger): number {
  const e = toHubError(err);
  process.stderr.write(`${ERR_PREFIX}ai-orchestrator-hub: ${e.message}\n`);
  log?.fatal({ err: e, code: e.code }, e.message);
  return 1;
}

export function configFailure(err: ConfigError): number {
  process.stderr.write(
    `${ERR_PREFIX}ai-orchestrator-hub: invalid configuration (${err.problems.length} problem${err.problems.length === 1 ? '' : 's'})\n`,
  );
  for (const p of err.problems) process.stderr.write(`${ERR_PREFIX}  ${formatProblem(p)}\n`);
  // No logger yet (the level itself may be what is wrong): write the record by hand, in the log's shape.
  const line = `${JSON.stringify({ level: 'fatal', time: new Date().toISOString(), msg: err.message, code: err.code })}\n`;
  process.stdout.write(stdoutIsJournal() ? withPriority(line) : line);
  return 1;
}
