import { parseArgs } from 'node:util';
import { HubError } from '../errors/index.js';

export const HELP = `Usage: ai-orchestrator-hub [command] [options]

Hub commands (read the configuration, act on the store):
  (none)                     start the hub (HTTP edge on [server] port, default 3001)
  migrate                    apply pending database migrations and exit
  backup --out FILE          write a consistent backup of the store while the hub runs
  restore FILE [--force]     restore a backup into the configured store (refuses a
                             non-empty store without --force), then migrate
  users add NAME [--role ROLE ...]   add a user; the password is read from stdin (one line)
  users passwd NAME                  set a user's password (read from stdin)
  users list                         list users and their roles
  users remove NAME                  remove a user and their sessions
                             roles: admin, operator, viewer, agent (default viewer)

Operator commands (over the REST API of a running hub):
  status                     health, modules, task and agent counts
  tasks list [--status S] [--limit N]
  tasks show ID | explain ID | cancel ID [--reason TEXT] | retry ID
  tasks redrive [--status dead|failed] [--limit N | --all]
  agents list | pause ID | resume ID | remove ID | restart ID
  agents drain ID [--timeout-ms N] | cancel ID [--reason TEXT]
  modules list | restart NAME
  flow list | show KEY       concurrency keys: holders, waiting tasks, limits, buckets

Options:
  --config FILE       extra TOML file, applied after settings/default.toml and the profile's file
                      (its top-level profile = "…" key, else HIVE_ENV, else its file name, chooses the profile)
  --check             check what the start needs (configuration, port, data directory, database,
                      users, models); print each verdict; exit 0/1
  --port N            override [server] port
  --log-level LEVEL   override [logging] level (trace, debug, info, warn, error, fatal, silent)
  --url URL           operator commands: the hub (default $HIVE_URL, else http://localhost:3001)
  --token TOKEN       operator commands: a bearer access token (default $HIVE_TOKEN)
  --api-key KEY       operator commands: an API key (default $HIVE_API_KEY)
  --json              operator commands: print the API's data as JSON (for jq)
  --version           print the version and exit
  --help              print this help and exit

Environment: HIVE_ENV selects settings/<profile>.toml (default development);
HIVE_<SECTION>_<KEY> overrides any key (e.g. HIVE_SERVER_PORT=3002); DATABASE_URL sets database.url.

Exit codes: 0 done; 1 failed or refused; 2 bad command line; operator commands also
3 hub unreachable, 4 not authenticated or not permitted, 5 not found.
`;

export type UsersAction = { action: 'add' | 'passwd' | 'list' | 'remove'; name: string; roles: string[] };

/** An operator command: words after the resource, with the options it takes. */
export interface ClientCommand {
  resource: 'status' | 'tasks' | 'agents' | 'modules' | 'flow';
  action: string;
  id: string | undefined;
  status: string | undefined;
  limit: number | undefined;
  all: boolean;
  reason: string | undefined;
  /** agents drain: how long to wait for its running tasks (ms). */
  timeoutMs: number | undefined;
  url: string | undefined;
  token: string | undefined;
  apiKey: string | undefined;
  json: boolean;
}

export interface CliArgs {
  command: 'serve' | 'migrate' | 'users' | 'backup' | 'restore' | 'client';
  users?: UsersAction | undefined;
  client?: ClientCommand | undefined;
  /** backup: --out; restore: the file. */
  file?: string | undefined;
  force: boolean;
  configFile: string | undefined;
  check: boolean;
  port: number | undefined;
  logLevel: string | undefined;
  version: boolean;
  help: boolean;
}

const OPTIONS = {
  config: { type: 'string' },
  check: { type: 'boolean', default: false },
  port: { type: 'string' },
  'log-level': { type: 'string' },
  version: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
  role: { type: 'string', multiple: true },
  out: { type: 'string' },
  force: { type: 'boolean', default: false },
  url: { type: 'string' },
  token: { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean', default: false },
  status: { type: 'string' },
  limit: { type: 'string' },
  all: { type: 'boolean', default: false },
  reason: { type: 'string' },
  'timeout-ms': { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

/** Which options each command takes (beyond --help); anything else is refused by name. */
const ALLOWED: Record<string, readonly (keyof typeof OPTIONS)[]> = {
  serve: ['config', 'check', 'port', 'log-level', 'version'],
  migrate: ['config', 'log-level'],
  users: ['config', 'log-level', 'role'],
  backup: ['config', 'log-level', 'out'],
  restore: ['config', 'log-level', 'force'],
  client: ['url', 'token', 'api-key', 'json', 'status', 'limit', 'all', 'reason', 'timeout-ms'],
};

const CLIENT_ACTIONS: Record<ClientCommand['resource'], Record<string, 'id' | 'none'>> = {
  status: { '': 'none' },
  tasks: { list: 'none', show: 'id', explain: 'id', cancel: 'id', retry: 'id', redrive: 'none' },
  agents: { list: 'none', pause: 'id', resume: 'id', remove: 'id', restart: 'id', drain: 'id', cancel: 'id' },
  modules: { list: 'none', restart: 'id' },
  flow: { list: 'none', show: 'id' },
};

function usage(message: string): HubError {
  return new HubError('VALIDATION_FAILED', `${message}; see --help`, { details: { usage: true } });
}

/** Parses the command line; unknown options and commands are VALIDATION_FAILED (exit code 2). */
export function parseCli(argv: readonly string[]): CliArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: OPTIONS });
  } catch (err) {
    throw usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [first, ...rest] = positionals;
  const command = commandOf(first);
  if (!values.help) refuseForeignOptions(command, values);
  const base: CliArgs = {
    command,
    force: values.force,
    configFile: values.config,
    check: values.check,
    port: parsePort(values.port),
    logLevel: values['log-level'],
    version: values.version,
    help: values.help,
  };
  switch (command) {
    case 'serve':
      if (first !== undefined) throw usage(`unknown command "${positionals.join(' ')}"`);
      return base;
    case 'migrate':
      if (rest.length > 0) throw usage(`migrate takes no arguments, got "${rest.join(' ')}"`);
      return base;
    case 'users':
      return { ...base, users: parseUsers(rest, values.role ?? []) };
    case 'backup':
      if (rest.length > 0 || values.out === undefined || values.out === '') throw usage('backup: expected --out FILE');
      return { ...base, file: values.out };
    case 'restore':
      if (rest.length !== 1 || rest[0] === '') throw usage('restore: expected one backup FILE');
      return { ...base, file: rest[0] };
    case 'client':
      return { ...base, client: parseClient(first as ClientCommand['resource'], rest, values) };
  }
}

function commandOf(first: string | undefined): CliArgs['command'] {
  if (first === undefined) return 'serve';
  if (first === 'migrate' || first === 'users' || first === 'backup' || first === 'restore') return first;
  if (first in CLIENT_ACTIONS) return 'client';
  return 'serve';
}

function refuseForeignOptions(command: CliArgs['command'], values: Values): void {
  const allowed = ALLOWED[command] ?? [];
  for (const [name, value] of Object.entries(values)) {
    const given = value !== undefined && value !== false;
    if (given && name !== 'help' && !allowed.includes(name as keyof typeof OPTIONS)) {
      const where =
        command === 'serve' ? 'starting the hub' : command === 'client' ? 'operator commands' : `\`${command}\``;
      throw usage(`--${name} is not an option of ${where}`);
    }
  }
}

function parsePort(port: string | undefined): number | undefined {
  if (port === undefined) return undefined;
  if (!/^\d+$/.test(port)) throw usage(`--port expects an integer from 0 to 65535, got "${port}"`);
  return Number(port);
}

function parseUsers(args: string[], roles: string[]): UsersAction {
  const [action, name, ...rest] = args;
  if (action === 'list' && name === undefined) {
    if (roles.length > 0) throw usage('--role is an option of `users add`, not of `users list`');
    return { action, name: '', roles: [] };
  }
  if ((action === 'add' || action === 'passwd' || action === 'remove') && name !== undefined && rest.length === 0) {
    if (action !== 'add' && roles.length > 0)
      throw usage(`--role is an option of \`users add\`, not of \`users ${action}\``);
    return { action, name, roles: action === 'add' && roles.length === 0 ? ['viewer'] : roles };
  }
  throw usage(`users: expected add NAME, passwd NAME, list or remove NAME, got "${args.join(' ')}"`);
}

function parseClient(resource: ClientCommand['resource'], args: string[], values: Values): ClientCommand {
  const actions = CLIENT_ACTIONS[resource];
  const [action = '', id, ...extra] = resource === 'status' ? ['', ...args] : args;
  const shape = actions[action];
  const expected = Object.entries(actions)
    .map(([a, s]) => (s === 'id' ? `${a} ${resource === 'modules' ? 'NAME' : 'ID'}` : a))
    .join(', ');
  if (shape === undefined || extra.length > 0 || (shape === 'id') !== (id !== undefined)) {
    throw usage(
      resource === 'status'
        ? `status takes no arguments, got "${args.join(' ')}"`
        : `${resource}: expected ${expected}, got "${args.join(' ')}"`,
    );
  }
  const only = (option: keyof typeof OPTIONS, where: string[]): void => {
    const v = values[option];
    if (v !== undefined && v !== false && !where.includes(`${resource} ${action}`))
      throw usage(`--${option} is an option of ${where.map((w) => `\`${w}\``).join(' and ')}`);
  };
  only('status', ['tasks list', 'tasks redrive']);
  only('limit', ['tasks list', 'tasks redrive']);
  only('all', ['tasks redrive']);
  only('reason', ['tasks cancel', 'agents cancel']);
  only('timeout-ms', ['agents drain']);
  if (values.all && values.limit !== undefined) throw usage('tasks redrive: --all and --limit exclude each other');
  const limit = values.limit;
  if (limit !== undefined && !/^\d+$/.test(limit)) throw usage(`--limit expects a positive integer, got "${limit}"`);
  const timeoutMs = values['timeout-ms'];
  if (timeoutMs !== undefined && !/^\d+$/.test(timeoutMs))
    throw usage(`--timeout-ms expects a whole number of milliseconds, got "${timeoutMs}"`);
  return {
    resource,
    action,
    id,
    status: values.status,
    limit: limit === undefined ? undefined : Number(limit),
    all: values.all,
    reason: values.reason,
    timeoutMs: timeoutMs === undefined ? undefined : Number(timeoutMs),
    url: values.url,
    token: values.token,
    apiKey: values['api-key'],
    json: values.json,
  };
}
