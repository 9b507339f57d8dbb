/**
 * The operator commands (`status`, `tasks …`, `agents …`, `modules …`): a thin
 * client of the REST API (docs/api.md), so they work against any node, local or
 * remote, with the same permissions as curl. Tables for people, --json for jq.
 */
import type { ClientCommand } from './args.js';

type Env = Readonly<Record<string, string | undefined>>;
type Data = Record<string, unknown>;
type Out = { out: (s: string) => void; err: (s: string) => void };

/** Exit codes of operator commands (also in --help and docs/operations.md). */
export const EXIT = { ok: 0, refused: 1, unreachable: 3, unauthenticated: 4, notFound: 5 } as const;

class ApiFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

interface Api {
  url: string;
  call(method: string, path: string, body?: unknown): Promise<Data>;
}

function api(command: ClientCommand, env: Env): Api {
  const url = (command.url ?? env['HIVE_URL'] ?? 'http://localhost:3001').replace(/\/+$/, '');
  const headers: Record<string, string> = {};
  const token = command.token ?? env['HIVE_TOKEN'];
  const apiKey = command.apiKey ?? env['HIVE_API_KEY'];
  if (token !== undefined && token !== '') headers['authorization'] = `Bearer ${token}`;
  else if (apiKey !== undefined && apiKey !== '') headers['x-api-key'] = apiKey;
  return {
    url,
    async call(method, path, body) {
      let res: Response;
      try {
        res = await fetch(`${url}${path}`, {
          method,
          headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
          body: body === undefined ? null : JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        throw new ApiFailure(
          `hub unreachable at ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
          EXIT.unreachable,
        );
      }
      const text = await res.text();
      let envelope: { success?: boolean; data?: Data; error?: { code: string; message: string } };
      try {
        envelope = JSON.parse(text) as typeof envelope;
      } catch {
        throw new ApiFailure(
          `${url}${path} answered ${res.status} with something that is not the hub's JSON: ${text.slice(0, 120)}`,
          EXIT.refused,
        );
      }
      if (res.ok && envelope.success === true) return envelope.data ?? {};
      const e = envelope.error ?? { code: `HTTP_${res.status}`, message: text.slice(0, 200) };
      const hint = res.status === 401 ? ' (give --token, HIVE_TOKEN or HIVE_API_KEY)' : '';
      const code =
        res.status === 401 || res.status === 403
          ? EXIT.unauthenticated
          : res.status === 404
            ? EXIT.notFound
            : EXIT.refused;
      throw new ApiFailure(`${e.code}: ${e.message}${hint}`, code);
    },
  };
}

/** Runs one operator command; returns its exit code. */
export async function runClient(
  command: ClientCommand,
  env: Env,
  io: Out = { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s) },
): Promise<number> {
  const hub = api(command, env);
  try {
    const { data, text } = await perform(command, hub);
    io.out(command.json ? `${JSON.stringify(data, null, 2)}\n` : text);
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof ApiFailure)) throw err;
    io.err(`ai-orchestrator-hub: ${err.message}\n`);
    return err.exitCode;
  }
}

const enc = encodeURIComponent;

// size: one case per operator command (a request and its text), as --help lists them.
async function perform(c: ClientCommand, hub: Api): Promise<{ data: unknown; text: string }> {
  const key = `${c.resource} ${c.action}`.trim();
  const id = c.id ?? '';
  switch (key) {
    case 'status':
      return status(hub);
    case 'tasks list': {
      const query = new URLSearchParams({ limit: String(c.limit ?? 100), order: 'desc' });
      if (c.status !== undefined) query.set('status', c.status);
      const data = await hub.call('GET', `/api/tasks?${query.toString()}`);
      const tasks = data['tasks'] as Data[];
      const rows = tasks.map((t) => [
        t['id'],
        t['status'],
        t['priority'],
        `${String(t['attempts'])}/${String(t['max_attempts'])}`,
        t['assigned_agent'] ?? '-',
        t['created_at'],
        t['title'],
      ]);
      return {
        data,
        text: `${table(['ID', 'STATUS', 'PRIORITY', 'ATTEMPTS', 'AGENT', 'CREATED', 'TITLE'], rows)}${tasks.length} of ${String(data['total'])} tasks (newest first)\n`,
      };
    }
    case 'tasks show': {
      const t = await hub.call('GET', `/api/tasks/${enc(id)}`);
      const fields = [
        'id',
        'title',
        'status',
        'priority',
        'type',
        'attempts',
        'max_attempts',
        'assigned_agent',
        'created_at',
        'started_at',
        'completed_at',
        'error',
        'result',
      ];
      const head = fields.map((f) => `${f.padEnd(15)}${display(t[f])}`).join('\n');
      const events = (t['events'] as Data[] | undefined) ?? [];
      const rows = events.map((e) => [
        e['created_at'],
        `${display(e['from_status'])} -> ${display(e['to_status'])}`,
        e['agent_id'] ?? '-',
        e['node_id'] ?? '-',
        display(e['detail']),
      ]);
      return { data: t, text: `${head}\n\n${table(['AT', 'TRANSITION', 'AGENT', 'NODE', 'DETAIL'], rows)}` };
    }
    case 'tasks explain': {
      const e = await hub.call('GET', `/api/tasks/${enc(id)}/explain`);
      return { data: e, text: `${String(e['code'])}: ${String(e['message'])}\n` };
    }
    case 'flow list':
    case 'flow show':
      return flow(c, hub);
    case 'tasks cancel': {
      const t = await hub.call(
        'POST',
        `/api/tasks/${enc(id)}/cancel`,
        c.reason === undefined ? {} : { reason: c.reason },
      );
      return { data: t, text: `task ${id} ${String(t['status'])}\n` };
    }
    case 'tasks retry': {
      const t = await hub.call('POST', `/api/tasks/${enc(id)}/retry`, {});
      return { data: t, text: `task ${id} is ${String(t['status'])} again\n` };
    }
    case 'tasks redrive':
      return redrive(c, hub);
    case 'agents list': {
      const data = await hub.call('GET', `/api/agents?limit=${c.limit ?? 1000}`);
      const agents = data['agents'] as Data[];
      const rows = agents.map((a) => [
        a['id'],
        a['name'],
        a['kind'],
        a['state'],
        a['paused'] === true ? 'yes' : 'no',
        `${String(a['running_tasks'])}/${String(a['max_concurrency'])}`,
        a['node_id'],
        (a['capabilities'] as Data[]).map((x) => `${String(x['name'])}:${String(x['proficiency'])}`).join(','),
      ]);
      return {
        data,
        text: `${table(['ID', 'NAME', 'KIND', 'STATE', 'PAUSED', 'RUNNING', 'NODE', 'CAPABILITIES'], rows)}${agents.length} of ${String(data['total'])} agents\n`,
      };
    }
    case 'agents pause':
    case 'agents resume': {
      const a = await hub.call('POST', `/api/agents/${enc(id)}/${c.action}`, {});
      return { data: a, text: `agent ${String(a['name'])} (${id}) ${c.action === 'pause' ? 'paused' : 'resumed'}\n` };
    }
    case 'agents drain': {
      const body = c.timeoutMs === undefined ? {} : { timeout_ms: c.timeoutMs };
      const a = await hub.call('POST', `/api/agents/${enc(id)}/drain`, body);
      const left = a['drained'] === true ? 'runs nothing' : `still runs ${String(a['running_tasks'])} tasks`;
      return { data: a, text: `agent ${String(a['name'])} (${id}) paused and ${left}\n` };
    }
    case 'agents cancel': {
      const a = await hub.call(
        'POST',
        `/api/agents/${enc(id)}/cancel`,
        c.reason === undefined ? {} : { reason: c.reason },
      );
      return { data: a, text: `agent ${String(a['name'])} (${id}): ${String(a['requeued'])} tasks back to pending\n` };
    }
    case 'agents restart': {
      const a = await hub.call('POST', `/api/agents/${enc(id)}/restart`, {});
      return {
        data: a,
        text: `agent ${String(a['name'])} (${id}) restarted: ${String(a['state'])}, ${String(a['restarts'])} restarts\n`,
      };
    }
    case 'agents remove': {
      const data = await hub.call('DELETE', `/api/agents/${enc(id)}`);
      return { data, text: `agent ${id} removed\n` };
    }
    case 'modules list': {
      const data = await hub.call('GET', '/api/modules');
      return { data, text: modulesTable(data['modules'] as Data[]) };
    }
    case 'modules restart': {
      const data = await hub.call('POST', `/api/modules/${enc(id)}/restart`, {});
      return {
        data,
        text: `module ${id} restarted: ${String(data['status'])}, ${String(data['restarts'])} restarts\n`,
      };
    }
  }
  throw new ApiFailure(`unknown operator command "${key}"`, EXIT.refused);
}

async function status(hub: Api): Promise<{ data: unknown; text: string }> {
  const health = await hub.call('GET', '/health?detailed=true').catch((err: unknown) => {
    // /health answers 503 with its body when unhealthy: show it rather than only the code.
    if (err instanceof ApiFailure && err.exitCode === EXIT.refused) return undefined;
    throw err;
  });
  const hive = await hub.call('GET', '/api/hive/status');
  const m = hive['metrics'] as Data;
  const h = health ?? { status: 'unhealthy (503)' };
  const lines = [
    `hub      ${hub.url}  ${String(h['status'])}  version ${display(h['version'])}  node ${display(h['node_id'] ?? hive['node_id'])}  up ${display(h['uptime_seconds'])} s`,
    `tasks    pending ${String(m['pending_tasks'])}  running ${String(m['running_tasks'])}  waiting ${String(m['waiting_tasks'])}  completed ${String(m['completed_tasks'])}  failed ${String(m['failed_tasks'])}  dead ${String(m['dead_tasks'])}  cancelled ${String(m['cancelled_tasks'])}  (${String(m['tasks_per_second'])}/s)`,
    `agents   ${String(m['total_agents'])} (${String(m['active_agents'])} working, ${String(m['idle_agents'])} idle)`,
  ];
  const checks = (h['checks'] ?? {}) as Record<string, Data>;
  const bad = Object.entries(checks).filter(([, v]) => v['status'] !== 'healthy');
  for (const [name, v] of bad)
    lines.push(
      `check    ${name}: ${String(v['status'])}${v['error'] !== undefined ? ` (${display(v['error'])})` : ''}`,
    );
  const modules = Object.entries((hive['modules'] ?? {}) as Record<string, Data>).map(([name, v]) => ({ name, ...v }));
  return { data: { health: health ?? null, hive }, text: `${lines.join('\n')}\n\n${modulesTable(modules)}` };
}

async function redrive(c: ClientCommand, hub: Api): Promise<{ data: unknown; text: string }> {
  const body = (limit: number): Data => ({ status: c.status ?? 'dead', limit });
  if (!c.all) {
    const data = await hub.call('POST', '/api/tasks/redrive', body(c.limit ?? 100));
    return { data, text: `redriven ${String(data['redriven'])} ${c.status ?? 'dead'} tasks back to pending\n` };
  }
  // --all: batches of the API's maximum until none is left.
  let total = 0;
  for (;;) {
    const data = await hub.call('POST', '/api/tasks/redrive', body(1000));
    const n = Number(data['redriven']);
    total += n;
    if (n < 1000) break;
  }
  return { data: { redriven: total }, text: `redriven ${total} ${c.status ?? 'dead'} tasks back to pending\n` };
}

/** flow list: a line per key; flow show KEY: that key's state. */
async function flow(c: ClientCommand, hub: Api): Promise<{ data: unknown; text: string }> {
  const keys =
    c.action === 'show'
      ? [await hub.call('GET', `/api/flow/keys/${enc(c.id ?? '')}`)]
      : ((await hub.call('GET', '/api/flow'))['keys'] as Data[]);
  const rows = keys.map((k) => {
    const rules = k['rules'] as Data;
    const limit = (rules['concurrency'] as Data | undefined)?.['limit'];
    const buckets = (k['buckets'] as Data[]).map(
      (b) => `${String(b['name'])} ${display(b['level'])}/${display(b['capacity'])}`,
    );
    return [k['key'], k['running'], limit ?? '-', k['waiting'], buckets.join(', ') || '-'];
  });
  return {
    data: c.action === 'show' ? keys[0] : { keys },
    text: table(['KEY', 'RUNNING', 'LIMIT', 'WAITING', 'BUCKETS'], rows),
  };
}

function modulesTable(modules: Data[]): string {
  const rows = modules.map((m) => [
    m['name'],
    m['status'],
    m['restarts'],
    m['crashes'] ?? '-',
    m['mailbox_depth'] ?? '-',
    m['last_error'] ?? '-',
  ]);
  return table(['MODULE', 'STATUS', 'RESTARTS', 'CRASHES', 'MAILBOX', 'LAST ERROR'], rows);
}

function display(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** Left-aligned columns, two spaces apart; cells are one line. */
export function table(head: string[], rows: unknown[][]): string {
  const cells = [head, ...rows.map((r) => r.map((v) => display(v).replace(/\s+/g, ' ')))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return (
    cells.map((r) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i] ?? 0))).join('  ')).join('\n') + '\n'
  );
}
