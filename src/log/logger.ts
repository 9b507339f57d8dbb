import { pino, type Logger } from 'pino';
import { redactText } from './redact.js';

export type { Logger };

/** Paths pino censors wherever they appear in a log record. */
const REDACT_PATHS = [
  'jwt_secret', '*.jwt_secret', '*.*.jwt_secret',
  'password', '*.password', '*.*.password',
  'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
  'headers["x-api-key"]', '*.headers["x-api-key"]',
  'api_key', '*.api_key', 'token', '*.token', 'refresh_token', '*.refresh_token', 'access_token', '*.access_token',
];

export interface LoggerOptions {
  level: string;
  nodeId: string;
  /** Where records go; stdout unless a test passes a stream. */
  destination?: NodeJS.WritableStream;
  /** Prefix each record with its syslog priority (`<3>{...}`): stdout is the journal (config's stdoutIsJournal). */
  journald?: boolean;
}

/** syslog priorities of pino's levels, as journald reads them from a `<N>` line prefix. */
const PRIORITY: Record<string, number> = { fatal: 2, error: 3, warn: 4, info: 6, debug: 7, trace: 7 };

/** `<N>` for a record line that starts with `{"level":"<label>"`; the record's JSON stays as it is (journald strips the prefix). */
export function withPriority(line: string): string {
  const end = line.indexOf('"', 10);
  const label = line.startsWith('{"level":"') && end > 10 ? line.slice(10, end) : '';
  return `<${PRIORITY[label] ?? 6}>${line}`;
}

/**
 * The hub's root logger: JSON lines, `level` as a label ("error") so that
 * `jq 'select(.level == "error")'` works, node_id on every record, secrets redacted.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { node_id: options.nodeId },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      hooks: {
        ...(options.journald === true ? { streamWrite: withPriority } : {}),
        // Driver error messages can carry connection strings: censor passwords in them.
        logMethod(args, method) {
          const redacted = args.map((a) => (typeof a === 'string' ? redactText(a) : a)) as typeof args;
          method.apply(this, redacted);
        },
      },
      serializers: { err: serializeError },
    },
    (options.destination ?? pino.destination({ dest: 1, sync: true })) as pino.DestinationStream,
  );
}

function serializeError(err: unknown): unknown {
  const s = pino.stdSerializers.err(err as Error);
  if (typeof s.message === 'string') s.message = redactText(s.message);
  if (typeof s.stack === 'string') s.stack = redactText(s.stack);
  return s;
}

/** A logger for one module: adds `module` to every record. */
export function moduleLogger(root: Logger, module: string): Logger {
  return root.child({ module });
}
