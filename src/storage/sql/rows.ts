import { isFlowed, type Agent, type NewTask, type Task } from '../../domain/index.js';
import type { Member, MemberStatus, TaskEvent, StoreContents } from '../store.js';
import type { Dialect, Row } from './executor.js';

function iso(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

export function isoOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : iso(value);
}

/** A JSON column's value (pg decodes jsonb itself; SQLite returns the text); null stays null. */
export function json(d: Dialect, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  return d.decodesJson ? value : JSON.parse(value as string);
}

/** JSON text for a parameter; undefined is stored as SQL NULL. */
export function toJson(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

export function rowToAgent(d: Dialect, r: Row): Agent {
  return {
    id: String(r['id']),
    name: String(r['name']),
    type: r['type'] as Agent['type'],
    state: r['state'] as Agent['state'],
    kind: r['kind'] as Agent['kind'],
    executor: (r['executor'] as string | null) ?? null,
    capabilities: json(d, r['capabilities']) as Agent['capabilities'],
    node_id: String(r['node_id']),
    stats: json(d, r['stats']) as Agent['stats'],
    paused: r['paused'] === true || r['paused'] === 1,
    max_concurrency: Number(r['max_concurrency']),
    owner: (r['owner'] as string | null | undefined) ?? null,
    created_at: iso(r['created_at']),
    updated_at: iso(r['updated_at']),
  };
}

export function rowToTask(d: Dialect, r: Row): Task {
  return {
    id: String(r['id']),
    title: String(r['title']),
    description: String(r['description']),
    type: String(r['type']),
    priority: r['priority'] as Task['priority'],
    status: r['status'] as Task['status'],
    required_capabilities: json(d, r['required_capabilities']) as Task['required_capabilities'],
    payload: json(d, r['payload']),
    result: json(d, r['result']),
    error: json(d, r['error']) as Task['error'],
    assigned_agent: (r['assigned_agent'] as string | null) ?? null,
    attempts: Number(r['attempts']),
    max_attempts: Number(r['max_attempts']),
    timeout_ms: Number(r['timeout_ms']),
    run_at: isoOrNull(r['run_at']),
    lease_owner: (r['lease_owner'] as string | null) ?? null,
    lease_expires_at: isoOrNull(r['lease_expires_at']),
    lease_epoch: Number(r['lease_epoch']),
    idempotency_key: (r['idempotency_key'] as string | null) ?? null,
    created_at: iso(r['created_at']),
    updated_at: iso(r['updated_at']),
    started_at: isoOrNull(r['started_at']),
    completed_at: isoOrNull(r['completed_at']),
    claimed_at: isoOrNull(r['claimed_at']),
    inferred_capabilities: (json(d, r['inferred_capabilities']) as Task['inferred_capabilities'] | undefined) ?? null,
    concurrency_keys: (json(d, r['concurrency_keys']) as string[] | null) ?? [],
    fairness_key: typeof r['fairness_key'] === 'string' && r['fairness_key'] !== '' ? r['fairness_key'] : null,
    cost: (json(d, r['cost']) as Task['cost']) ?? null,
    usage: (json(d, r['usage']) as Task['usage']) ?? null,
    parent_id: (r['parent_id'] as string | null | undefined) ?? null,
    wait_for: (json(d, r['wait_for']) as Task['wait_for']) ?? null,
    wake_at: isoOrNull(r['wake_at']),
    checkpoint: json(d, r['checkpoint']),
    resume: (json(d, r['resume']) as Task['resume']) ?? null,
    progress: (json(d, r['progress']) as Task['progress']) ?? null,
    schedule_id: (r['schedule_id'] as string | null | undefined) ?? null,
  };
}

export function rowToEvent(d: Dialect, r: Row): TaskEvent {
  return {
    id: Number(r['id']),
    task_id: String(r['task_id']),
    from_status: (r['from_status'] as TaskEvent['from_status']) ?? null,
    to_status: r['to_status'] as TaskEvent['to_status'],
    agent_id: (r['agent_id'] as string | null) ?? null,
    node_id: (r['node_id'] as string | null) ?? null,
    detail: json(d, r['detail']),
    created_at: iso(r['created_at']),
  };
}

export function rowToMember(r: Row): Member {
  return {
    node_id: String(r['node_id']),
    address: String(r['address']),
    grpc_port: Number(r['grpc_port']),
    http_port: Number(r['http_port']),
    epoch: Number(r['epoch']),
    status: String(r['status']) as MemberStatus,
    heartbeat_at: iso(r['heartbeat_at']),
    started_at: iso(r['started_at']),
  };
}

/** What a store holds, in one statement (Store.contents, and backup inside its snapshot). */
export const CONTENTS_SQL =
  'SELECT (SELECT count(*) FROM tasks) AS tasks, (SELECT count(*) FROM agents) AS agents, (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM api_keys) AS api_keys';

export function rowToContents(row: Row | undefined): StoreContents {
  return {
    tasks: Number(row?.['tasks'] ?? 0),
    agents: Number(row?.['agents'] ?? 0),
    users: Number(row?.['users'] ?? 0),
    api_keys: Number(row?.['api_keys'] ?? 0),
  };
}

/** A new task's flow columns as parameters: keys (JSON or NULL), tenant, cost (JSON or NULL), flowed (1/0). */
export function flowParams(t: NewTask): [string | null, string, string | null, number] {
  const keys = t.concurrency_keys ?? [];
  return [
    keys.length === 0 ? null : JSON.stringify(keys),
    t.fairness_key ?? '',
    toJson(t.cost ?? null),
    isFlowed(t) ? 1 : 0,
  ];
}
