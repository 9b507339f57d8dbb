/** The offline commands: users, backup, restore, migrate (they open the store themselves; no hub runs). */
import { readProcessEnv, type HubConfig } from '../config/index.js';
import { moduleLogger, type Logger } from '../log/logger.js';
import { backupStore, describeStore, openStore, prepareDataDir, restoreStore } from '../storage/index.js';
import os from 'node:os';
import { type CliArgs } from '../cli/args.js';
import { AuthService } from '../auth/service.js';
import type { Role } from '../storage/index.js';
import { fail } from './exit.js';

/** `users add|passwd|list|remove`: passwords come from stdin, never from the command line (it shows in ps and shell history). */
export async function users(config: HubConfig, log: Logger, u: NonNullable<CliArgs['users']>): Promise<number> {
  prepareDataDir(config.database.data_dir);
  const store = await openStore(config, log);
  try {
    await store.migrate();
    const auth = new AuthService({ config, store: store.security, log: moduleLogger(log, 'security') });
    const by = { kind: 'user' as const, id: 'cli', name: `cli:${os.userInfo().username}`, roles: ['admin' as const] };
    switch (u.action) {
      case 'list':
        for (const x of await auth.listUsers())
          process.stdout.write(`${x.username}\t${x.roles.join(',')}\t${x.created_at}\n`);
        return 0;
      case 'add': {
        const created = await auth.addUser(u.name, await readPassword(), u.roles as Role[]);
        await auth.audit('user.created', by.name, null, { username: created.username, roles: created.roles });
        process.stdout.write(`user ${created.username} added with roles ${created.roles.join(', ')}\n`);
        return 0;
      }
      case 'passwd':
        await auth.setPassword(u.name, await readPassword());
        await auth.audit('user.password_set', by.name, null, { username: u.name });
        process.stdout.write(`password of ${u.name} set\n`);
        return 0;
      case 'remove':
        await auth.removeUser(u.name);
        await auth.audit('user.removed', by.name, null, { username: u.name });
        process.stdout.write(`user ${u.name} removed\n`);
        return 0;
    }
  } catch (err) {
    return fail(err);
  } finally {
    await store.close();
  }
}

/** The first line of stdin (a terminal or a pipe: `echo "$PW" | ai-orchestrator-hub users add alice`). */
async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('password: ');
  let data = '';
  for await (const chunk of process.stdin) {
    data += String(chunk);
    if (data.includes('\n')) break;
  }
  return data.split(/\r?\n/)[0] ?? '';
}

const describeContents = (c: { tasks: number; agents: number; users: number; api_keys: number }): string =>
  `${c.tasks} tasks, ${c.agents} agents, ${c.users} users, ${c.api_keys} API keys`;

/** `backup --out FILE`: while the hub runs, from a connection of its own. */
export async function backup(config: HubConfig, file: string): Promise<number> {
  try {
    const r = await backupStore(config, file, readProcessEnv());
    process.stdout.write(
      `backup of ${describeStore(config)} written to ${r.file} (${(r.bytes / 1_048_576).toFixed(1)} MiB in ${(r.ms / 1000).toFixed(1)} s): ${describeContents(r.contents)}\n`,
    );
    return 0;
  } catch (err) {
    return fail(err);
  }
}

/** `restore FILE [--force]`: with no hub running on the store. */
export async function restore(config: HubConfig, log: Logger, file: string, force: boolean): Promise<number> {
  try {
    const r = await restoreStore(config, file, { force, log: moduleLogger(log, 'storage'), env: readProcessEnv() });
    const migrated = r.applied.length === 0 ? 'schema up to date' : `migrations ${r.applied.join(', ')} applied`;
    process.stdout.write(
      `restored ${file} into ${describeStore(config)} in ${(r.ms / 1000).toFixed(1)} s (${migrated}): ${describeContents(r.contents)}\n`,
    );
    return 0;
  } catch (err) {
    return fail(err);
  }
}

export async function migrate(config: HubConfig, log: Logger): Promise<number> {
  prepareDataDir(config.database.data_dir);
  const store = await openStore(config, log);
  try {
    const applied = await store.migrate();
    process.stdout.write(
      applied.length === 0
        ? `database ${describeStore(config)} is up to date\n`
        : `applied migrations ${applied.join(', ')} to ${describeStore(config)}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
