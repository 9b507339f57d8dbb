/**
 * Flow control in SQL, for both engines: the facts a claim's plan needs
 * (tenants with ready work, their virtual times, each key's holders, buckets
 * and run-time rules), the fair candidates, and the plan's writes. The rules
 * themselves are src/domain/flow*.ts. On PostgreSQL every fair claim holds
 * one transaction-scoped advisory lock, so limits hold across nodes; SQLite
 * has one writer anyway.
 */
import {
  DEFAULT_TENANT,
  NO_OVERRIDES,
  RULE_KINDS,
  bucketId,
  type Amounts,
  type BucketState,
  type BucketWrite,
  type FlowCandidate,
  type FlowFacts,
  type FlowOverrides,
  type FlowPolicy,
  type KeyRules,
  type RuleKind,
} from '../../domain/index.js';
import type { Dialect, Executor, Row } from './executor.js';
import { inFrom } from './lifecycle-sql.js';
import { json } from './rows.js';
import type { Where } from './sql-base.js';

/** Most tenants one claim looks at (those next in fair order); the others come in later claims. */
export const TENANTS_PER_CLAIM = 32;

/** The statuses that hold a concurrency slot: in flight (claimed for an agent, or running), as the lifecycle defines them. */
export const HOLDING = inFrom('requeue');

/**
 * Whether any pending task carries a key or a cost (`flowed`), and whether any
 * has a tenant of its own (`tenanted`): two probes of partial indexes that stay
 * empty while nobody uses flow control, so plain claims pay almost nothing.
 */
export async function probeFlow(tx: Executor): Promise<{ flowed: boolean; tenanted: boolean }> {
  const pending = inFrom('claim');
  const rows = await tx.all(
    `SELECT (SELECT count(*) FROM (SELECT 1 FROM tasks WHERE flowed = 1 AND ${pending} LIMIT 1) f) AS flowed,
            (SELECT count(*) FROM (SELECT 1 FROM tasks WHERE fairness_key <> '' AND ${pending} LIMIT 1) t) AS tenanted`,
  );
  return { flowed: Number(rows[0]?.['flowed'] ?? 0) > 0, tenanted: Number(rows[0]?.['tenanted'] ?? 0) > 0 };
}

/** Tenants with ready pending work: a loose index scan, one probe per tenant (not per task). */
export async function readyTenants(tx: Executor): Promise<string[]> {
  const ready = `${inFrom('claim')} AND deps_pending = 0`;
  // ORDER BY … LIMIT 1 rather than min(): the plan is an index probe even when the table's statistics are stale.
  const next = (after: string): string =>
    `(SELECT fairness_key FROM tasks WHERE ${ready}${after} ORDER BY fairness_key LIMIT 1)`;
  const rows = await tx.all(
    `WITH RECURSIVE t(k) AS (
       SELECT ${next('')}
       UNION ALL
       SELECT ${next(' AND fairness_key > t.k')} FROM t WHERE t.k IS NOT NULL
     ) SELECT k FROM t WHERE k IS NOT NULL`,
  );
  return rows.map((r) => String(r['k']));
}

export function keysOf(d: Dialect, r: Row): string[] {
  const v = r['concurrency_keys'];
  return (json(d, v) as string[] | null) ?? [];
}

export function amountsOf(d: Dialect, v: unknown): Amounts | null {
  return json(d, v) as Amounts | null;
}

/** Run-time rules by kind and key. */
export async function readOverrides(tx: Executor, d: Dialect): Promise<FlowOverrides> {
  const rows = await tx.all('SELECT key, kind, rule FROM flow_rules');
  if (rows.length === 0) return NO_OVERRIDES;
  const maps = Object.fromEntries(RULE_KINDS.map((k) => [k, new Map<string, unknown>()])) as Record<
    RuleKind,
    Map<string, unknown>
  >;
  for (const r of rows) {
    maps[r['kind'] as RuleKind]?.set(String(r['key']), json(d, r['rule']));
  }
  return maps as unknown as FlowOverrides;
}

/**
 * Everything the plan needs to know, read under the claim's lock: tenants'
 * times (when there are several), and, for claims with keys, the holders of
 * keys (when some concurrency rule exists) and the buckets (when some rate or
 * budget rule exists).
 */
export async function readFacts(
  tx: Executor,
  d: Dialect,
  policy: FlowPolicy,
  tenants: readonly string[],
  withKeys: boolean,
  overrides: FlowOverrides,
): Promise<FlowFacts> {
  const times = new Map<string, number>();
  if (tenants.length > 1) {
    const marks = ['*', ...tenants].map(() => '?').join(', ');
    for (const r of await tx.all(`SELECT tenant, vtime FROM flow_tenants WHERE tenant IN (${marks})`, [
      '*',
      ...tenants,
    ]))
      times.set(String(r['tenant']), Number(r['vtime']));
  }
  const clock = times.get('*') ?? 0;
  times.delete('*');
  const running = new Map<string, number>();
  const buckets = new Map<string, BucketState>();
  const any = (o: object, m: ReadonlyMap<string, unknown>): boolean => Object.keys(o).length > 0 || m.size > 0;
  if (withKeys && any(policy.concurrency, overrides.concurrency))
    for (const r of await tx.all(d.keysHeld(HOLDING))) running.set(String(r['key']), Number(r['n']));
  if (withKeys && (any(policy.rate, overrides.rate) || any(policy.budget, overrides.budget)))
    for (const r of await tx.all('SELECT key, bucket, level, updated_ms FROM flow_buckets'))
      buckets.set(bucketId(String(r['key']), String(r['bucket'])), {
        level: Number(r['level']),
        updated_ms: Number(r['updated_ms']),
      });
  return { policy, overrides, running, buckets, tenants: times, clock, now: Date.now() };
}

/** The tenants a claim looks at: those whose next dispatch starts first (max(own time, clock)). */
export function nextTenants(f: FlowFacts, tenants: readonly string[], max = TENANTS_PER_CLAIM): string[] {
  const start = (t: string): number => Math.max(f.tenants.get(t) ?? f.clock, f.clock);
  return [...tenants].sort((a, b) => start(a) - start(b) || (a < b ? -1 : 1)).slice(0, max);
}

/** Each tenant's ready tasks in claim order, skipping tasks of keys that take nothing now (no head-of-line blocking). */
export async function candidates(
  tx: Executor,
  d: Dialect,
  where: Where,
  tenants: readonly string[],
  blocked: readonly string[],
  limitOf: (tenant: string) => number,
): Promise<Map<string, FlowCandidate[]>> {
  const skip = blocked.length === 0 ? '' : ` AND ${d.noKeyIn('concurrency_keys')}`;
  const one = `SELECT id, concurrency_keys, fairness_key, cost FROM tasks${where.sql} AND fairness_key = ?${skip}
    ORDER BY priority_rank DESC, ${d.insertOrder} LIMIT ?`;
  const sql = tenants.map((_, i) => `SELECT * FROM (${one}) q${i}`).join(' UNION ALL ');
  const params = tenants.flatMap((t) => [
    ...where.params,
    t,
    ...(skip === '' ? [] : [d.keysParam(blocked)]),
    limitOf(t),
  ]);
  const rows = tenants.length === 0 ? [] : await tx.all(sql, params);
  const out = new Map<string, FlowCandidate[]>(tenants.map((t) => [t, []]));
  for (const r of rows) {
    const tenant = typeof r['fairness_key'] === 'string' ? r['fairness_key'] : DEFAULT_TENANT;
    out.get(tenant)?.push({ id: String(r['id']), keys: keysOf(d, r), tenant, cost: amountsOf(d, r['cost']) });
  }
  return out;
}

/** Adds each write's delta to its bucket (a missing bucket is stored at the write's level). */
export async function writeBuckets(tx: Executor, writes: readonly BucketWrite[], now: number): Promise<void> {
  for (const w of writes) {
    await tx.run(
      `INSERT INTO flow_buckets (key, bucket, level, updated_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (key, bucket) DO UPDATE SET level = flow_buckets.level + ?, updated_ms = ?`,
      [w.key, w.bucket, w.level, now, w.delta, now],
    );
  }
}

/** Refunds and debits after tasks end: only buckets that exist change (their time stays, they refill from it). */
export async function creditBuckets(tx: Executor, writes: readonly BucketWrite[]): Promise<void> {
  for (const w of writes)
    await tx.run('UPDATE flow_buckets SET level = level + ? WHERE key = ? AND bucket = ?', [w.delta, w.key, w.bucket]);
}

export async function writeTenants(tx: Executor, times: ReadonlyMap<string, number>, clock: number): Promise<void> {
  for (const [tenant, vtime] of [...times, ['*', clock] as const])
    await tx.run(
      'INSERT INTO flow_tenants (tenant, vtime) VALUES (?, ?) ON CONFLICT (tenant) DO UPDATE SET vtime = excluded.vtime',
      [tenant, vtime],
    );
}

/** Stores a run-time rule for one key (or removes it: `rule` undefined). */
export async function writeRule(
  db: Executor,
  key: string,
  kind: RuleKind,
  rule: KeyRules[RuleKind] | undefined,
): Promise<boolean> {
  if (rule === undefined) return (await db.run('DELETE FROM flow_rules WHERE key = ? AND kind = ?', [key, kind])) > 0;
  await db.run(
    `INSERT INTO flow_rules (key, kind, rule, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (key, kind) DO UPDATE SET rule = excluded.rule, updated_at = excluded.updated_at`,
    [key, kind, JSON.stringify(rule), new Date().toISOString()],
  );
  return true;
}
