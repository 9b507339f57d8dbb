import { pino, type Logger } from 'pino';
import { redactText } from './redact.js';

export type { Logger };

/** Paths pino censors wherever they appear in a log record. */
const REDACT_PATHS = [
  'jwt_secret',
  '*.jwt_secret',
  '*.*.jwt_secret',
  'password',
  '*.password',
  '*.*.password',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers["x-api-key"]',
  '*.headers["x-api-key"]',
  'api_key',
  '*.api_key',
  'token',
  '*.token',
  'refresh_token',
  '*.refresh_token',
  'access_token',
  '*.access_token',
];

export interface LoggerOptions {
  level: string;
  nodeId: string;
  /** Where records go; stdout unless a test passes a stream. */
  destination?: NodeJS.WritableStream;
  /** Prefix each record with its syslog priority (`<3>{...}`): stdout is the journal (config's stdoutIsJournal). */
  journald?: boolean;
  /** Also append every record, unprefixed, to this file ([logging] file); reopenLogFiles() reopens it. */
  file?: string | undefined;
}

/** Log files open in this process, reopened on SIGHUP (after logrotate moved them). */
const openFiles = new Set<pino.DestinationStream & { reopen(): void }>();

/** Reopens every [logging] file: called on SIGHUP. */
export function reopenLogFiles(): number {
  for (const f of openFiles) f.reopen();
  return openFiles.size;
}

/**
 * Where records go: stdout (a test's stream), with the journald priority prefix
 * when stdout is the journal, and the same line without it to the log file.
 * Writes are synchronous: a record logged just before an exit is never lost.
 */
function destinationOf(options: LoggerOptions): pino.DestinationStream {
  const out = (options.destination ?? pino.destination({ dest: 1, sync: true })) as pino.DestinationStream;
  const file = options.file === undefined || options.file === '' ? undefined : openLogFile(options.file);
  if (options.journald !== true && file === undefined) return out;
  return {
    write(line: string) {
      out.write(options.journald === true ? withPriority(line) : line);
      file?.write(line);
    },
  };
}

function openLogFile(file: string): pino.DestinationStream & { reopen(): void } {
  try {
    const stream = pino.destination({
      dest: file,
      sync: true,
      append: true,
      mkdir: true,
    }) as unknown as pino.DestinationStream & { reopen(): void };
    openFiles.add(stream);
    return stream;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw Object.assign(new Error(`cannot open the log file ${file} ([logging] file): ${code}`), { code: 'LOG_FILE' });
  }
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
        // Driver error messages can carry connection strings: censor passwords in them.
        logMethod(args, method) {
          const redacted = args.map((a) => (typeof a === 'string' ? redactText(a) : a)) as typeof args;
          redacted[0] = withoutBoundKeys(this, redacted[0]);
          method.apply(this, redacted);
        },
      },
      serializers: { err: serializeError },
    },
    destinationOf(options),
  );
}

/** The keys a logger binds (node_id, module, …), read once per logger from pino's serialised bindings. */
const boundKeyCache = new WeakMap<object, ReadonlySet<string>>();
function boundKeys(logger: Logger): ReadonlySet<string> {
  let keys = boundKeyCache.get(logger);
  if (keys === undefined) {
    keys = new Set(Object.keys(logger.bindings()));
    boundKeyCache.set(logger, keys);
  }
  return keys;
}

const RECORD_KEYS = ['level', 'time', 'msg'];

/**
 * pino writes a record's bindings and its own object side by side, so a module
 * logger's call with `{ module }` would print "module" twice (JSON parsers then
 * disagree on which wins). A key the logger already binds is dropped when equal;
 * a different value, and the record's own level/time/msg, move to `<key>_field`.
 */
function withoutBoundKeys(logger: Logger, first: unknown): unknown {
  if (typeof first !== 'object' || first === null || first instanceof Error) return first;
  const bound = boundKeys(logger);
  const obj = first as Record<string, unknown>;
  if (!Object.keys(obj).some((k) => bound.has(k) || RECORD_KEYS.includes(k))) return first;
  const bindings = bound.size === 0 ? {} : logger.bindings();
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (bound.has(k) && bindings[k] === v) continue;
    out[bound.has(k) || RECORD_KEYS.includes(k) ? `${k}_field` : k] = v;
  }
  return out;
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
