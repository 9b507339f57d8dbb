import { parseArgs } from 'node:util';
import { HubError } from './errors/index.js';

export const HELP = `Usage: ai-orchestrator-hub [command] [options]

Commands:
  (none)              start the hub (HTTP edge on [server] port, default 3001)
  migrate             apply pending database migrations and exit
  users add NAME [--role ROLE ...]   add a user; the password is read from stdin (one line)
  users passwd NAME                  set a user's password (read from stdin)
  users list                         list users and their roles
  users remove NAME                  remove a user and their sessions
                      roles: admin, operator, viewer, agent (default viewer)

Options:
  --config FILE       extra TOML file, applied after settings/default.toml and settings/$HIVE_ENV.toml
  --check             validate the configuration, probe the database and data directory, print a verdict, exit 0/1
  --port N            override [server] port
  --log-level LEVEL   override [logging] level (trace, debug, info, warn, error, fatal, silent)
  --version           print the version and exit
  --help              print this help and exit

Environment: HIVE_ENV selects settings/<profile>.toml (default development);
HIVE_<SECTION>_<KEY> overrides any key (e.g. HIVE_SERVER_PORT=3002); DATABASE_URL sets database.url.
`;

export interface CliArgs {
  command: 'serve' | 'migrate' | 'users';
  /** users: the action and its user name. */
  users?: { action: 'add' | 'passwd' | 'list' | 'remove'; name: string; roles: string[] } | undefined;
  configFile: string | undefined;
  check: boolean;
  port: number | undefined;
  logLevel: string | undefined;
  version: boolean;
  help: boolean;
}

/** Parses the command line; unknown options and commands are VALIDATION_FAILED. */
export function parseCli(argv: readonly string[]): CliArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string' },
        check: { type: 'boolean', default: false },
        port: { type: 'string' },
        'log-level': { type: 'string' },
        version: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
        role: { type: 'string', multiple: true },
      },
    });
  } catch (err) {
    throw new HubError('VALIDATION_FAILED', `${(err as Error).message}; see --help`);
  }
  const { values, positionals } = parsed;
  const users = positionals[0] === 'users' ? parseUsers(positionals.slice(1), values.role ?? []) : undefined;
  if (users === undefined && (positionals.length > 1 || (positionals[0] !== undefined && positionals[0] !== 'migrate'))) {
    throw new HubError('VALIDATION_FAILED', `unknown command "${positionals.join(' ')}"; see --help`);
  }
  if (users === undefined && values.role !== undefined) throw new HubError('VALIDATION_FAILED', '--role is an option of `users add`; see --help');
  const port = values.port;
  if (port !== undefined && !/^\d+$/.test(port)) throw new HubError('VALIDATION_FAILED', `--port expects an integer from 0 to 65535, got "${port}"`);
  return {
    command: users !== undefined ? 'users' : positionals[0] === 'migrate' ? 'migrate' : 'serve',
    users,
    configFile: values.config,
    check: values.check,
    port: port === undefined ? undefined : Number(port),
    logLevel: values['log-level'],
    version: values.version,
    help: values.help,
  };
}

function parseUsers(args: string[], roles: string[]): NonNullable<CliArgs['users']> {
  const [action, name, ...rest] = args;
  if (action === 'list' && name === undefined) return { action, name: '', roles: [] };
  if ((action === 'add' || action === 'passwd' || action === 'remove') && name !== undefined && rest.length === 0) {
    if (action !== 'add' && roles.length > 0) throw new HubError('VALIDATION_FAILED', `--role is an option of \`users add\`, not of \`users ${action}\``);
    return { action, name, roles: action === 'add' && roles.length === 0 ? ['viewer'] : roles };
  }
  throw new HubError('VALIDATION_FAILED', `users: expected add NAME, passwd NAME, list or remove NAME, got "${args.join(' ')}"; see --help`);
}
