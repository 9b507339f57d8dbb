/** The SQL store's flow layer: the configured policy, run-time rules, key states, usage reports and settlements. */
import {
  EMPTY_POLICY,
  NO_OVERRIDES,
  PRIORITY_RANK,
  blockOf,
  bucketsOf,
  bucketId,
  levelNow,
  msUntil,
  rulesFor,
  settlement,
  weightOf,
  type Amounts,
  type BucketWrite,
  type FairPosition,
  type FlowOverrides,
  type FlowPolicy,
  type KeyBlock,
  type KeyRules,
  type RuleKind,
  type Task,
} from '../../domain/index.js';
import type { FlowKeyState } from '../store.js';
import type { Executor, Row } from './executor.js';
import { inFrom } from './lifecycle-sql.js';
import { SqlDependencies } from './sql-dependencies.js';
import { isUuid } from './sql-base.js';
import {
  HOLDING,
  amountsOf,
  creditBuckets,
  keysOf,
  nextTenants,
  readFacts,
  readOverrides,
  readyTenants,
  writeRule,
} from './sql-flow.js';

/** A task whose attempt ended or was given back, as the settlement reads it. */
export interface Ended {
  row: Row;
  /** Given back before it started (everything reserved comes back). */
  released: boolean;
}

const RULES_TTL_MS = 1000;
/** Most tasks one aging pass raises (the sweep runs one a second). */
const AGING_BATCH = 10_000;
/** The rank of critical, above which aging raises nothing. */
const MAX_RANK = Math.max(...Object.values(PRIORITY_RANK));

export class SqlFlowStore extends SqlDependencies {
  protected flowPolicy: FlowPolicy = EMPTY_POLICY;
  /** Run-time rules, read at most once a second (a rule set on another node applies within a second). */
  private rules: { at: number; value: FlowOverrides } | undefined;

  configureFlow(policy: FlowPolicy): void {
    this.flowPolicy = policy;
  }

  protected async overrides(tx: Executor = this.db): Promise<FlowOverrides> {
    const now = Date.now();
    if (this.rules !== undefined && now - this.rules.at < RULES_TTL_MS) return this.rules.value;
    const value = await readOverrides(tx, this.dialect);
    this.rules = { at: now, value };
    return value;
  }

  /**
   * Raises ready tasks that waited `agingMs` one level, at most AGING_BATCH per
   * call: a backlog of a million that crosses the line at once is
   * raised over the next passes, never by one statement that rewrites it all.
   */
  async ageTasks(agingMs: number, now: Date): Promise<number> {
    if (agingMs <= 0) return 0;
    const cutoff = new Date(now.getTime() - agingMs).toISOString();
    return this.db.run(
      `UPDATE tasks SET priority_rank = priority_rank + 1, aged_at = ?
       WHERE id IN (SELECT id FROM tasks WHERE ${inFrom('claim')} AND deps_pending = 0 AND priority_rank < ${MAX_RANK}
         AND (run_at IS NULL OR run_at <= ?) AND COALESCE(aged_at, created_at) <= ? LIMIT ${AGING_BATCH})`,
      [now.toISOString(), now.toISOString(), cutoff],
    );
  }

  async recordWaits(items: ReadonlyArray<{ id: string; detail: unknown }>, nodeId: string): Promise<void> {
    if (items.length === 0) return;
    const now = new Date().toISOString();
    // A note, not a move: the task stays pending (so no lifecycle check applies).
    await this.db.transaction(async (tx) => {
      for (const it of items)
        await tx.run(
          `INSERT INTO task_events (task_id, from_status, to_status, agent_id, node_id, detail, created_at)
           SELECT id, 'pending', 'pending', NULL, ?, ?, ? FROM tasks WHERE id = ? AND ${inFrom('claim')}`,
          [nodeId, JSON.stringify(it.detail), now, it.id],
        );
    });
  }

  protected async anyConcurrencyRule(tx: Executor): Promise<boolean> {
    return Object.keys(this.flowPolicy.concurrency).length > 0 || (await this.overrides(tx)).concurrency.size > 0;
  }

  async setFlowRule(key: string, kind: RuleKind, rule: KeyRules[RuleKind] | undefined): Promise<boolean> {
    const changed = await writeRule(this.db, key, kind, rule);
    this.rules = undefined;
    return changed;
  }

  async listFlowKeys(only?: readonly string[]): Promise<FlowKeyState[]> {
    const held = await this.db.all(this.dialect.keysHeld(HOLDING));
    const waiting = await this.db.all(this.dialect.keysHeld(inFrom('claim')));
    const stored = await this.db.all('SELECT key, bucket, level, updated_ms FROM flow_buckets');
    const overrides = await this.overrides();
    const reserved = await this.reservedByKey();
    const count = (rows: Row[]): Map<string, number> => new Map(rows.map((r) => [String(r['key']), Number(r['n'])]));
    const [holding, queued] = [count(held), count(waiting)];
    const levels = new Map(stored.map((r) => [bucketId(String(r['key']), String(r['bucket'])), r]));
    const keys = new Set<string>(only ?? [...holding.keys(), ...queued.keys(), ...stored.map((r) => String(r['key']))]);
    if (only === undefined)
      for (const m of [overrides.concurrency, overrides.rate, overrides.budget]) for (const k of m.keys()) keys.add(k);
    const now = Date.now();
    return [...keys].sort().map((key) => {
      const rules = rulesFor(this.flowPolicy, overrides, key);
      const buckets = bucketsOf(rules).map((b) => {
        const r = levels.get(bucketId(key, b.name));
        const state = r === undefined ? undefined : { level: Number(r['level']), updated_ms: Number(r['updated_ms']) };
        const level = levelNow(state, b.spec, now);
        const full = msUntil(level, b.spec.capacity, b.spec);
        return {
          name: b.name,
          level: Math.round(level * 1000) / 1000,
          capacity: b.spec.capacity,
          full_at: full === 0 ? null : new Date(now + full).toISOString(),
        };
      });
      const overridden = (['concurrency', 'rate', 'budget'] as const).filter((k) => overrides[k].has(key));
      return {
        key,
        running: holding.get(key) ?? 0,
        waiting: queued.get(key) ?? 0,
        reserved: reserved.get(key) ?? {},
        rules,
        overridden,
        buckets,
      };
    });
  }

  /** Sums of the costs of the tasks holding each key (holding tasks are few: at most the cluster's slots times prefetch). */
  private async reservedByKey(): Promise<Map<string, Amounts>> {
    const rows = await this.db.all(
      `SELECT concurrency_keys, cost FROM tasks WHERE ${HOLDING} AND flowed = 1 AND cost IS NOT NULL`,
    );
    const out = new Map<string, Amounts>();
    for (const r of rows) {
      const cost = amountsOf(this.dialect, r['cost']) ?? {};
      for (const key of keysOf(this.dialect, r)) {
        const sum = out.get(key) ?? {};
        for (const [unit, n] of Object.entries(cost)) sum[unit] = (sum[unit] ?? 0) + n;
        out.set(key, sum);
      }
    }
    return out;
  }

  async flowBlocks(tasks: readonly Task[]): Promise<Map<string, KeyBlock>> {
    const keyed = tasks.filter((t) => t.concurrency_keys.length > 0);
    const out = new Map<string, KeyBlock>();
    if (keyed.length === 0) return out;
    const facts = await readFacts(this.db, this.dialect, this.flowPolicy, [], true, await this.overrides());
    for (const t of keyed) {
      const block = blockOf(facts, { id: t.id, keys: t.concurrency_keys, tenant: '', cost: t.cost });
      if (block !== undefined) out.set(t.id, block);
    }
    return out;
  }

  async countKeyAhead(taskId: string, key: string): Promise<number> {
    return this.countAhead(taskId, `NOT ${this.dialect.noKeyIn('o.concurrency_keys')}`, [
      this.dialect.keysParam([key]),
    ]);
  }

  /** Ready pending tasks meeting `condition` (on alias o) that the claim takes before this one: higher rank, or the same and older. */
  protected async countAhead(taskId: string, condition: string, params: unknown[]): Promise<number> {
    if (!isUuid(taskId)) return 0;
    const order = this.dialect.insertOrder;
    return this.count(
      `SELECT count(*) AS n FROM tasks o, (SELECT priority_rank AS rank, ${order} AS pos FROM tasks WHERE id = ?) me
       WHERE ${inFrom('claim', 'o')} AND o.deps_pending = 0 AND ${condition}
         AND (o.priority_rank > me.rank OR (o.priority_rank = me.rank AND o.${order} < me.pos))`,
      [taskId, ...params],
    );
  }

  async fairPosition(task: Task): Promise<FairPosition> {
    const tenant = task.fairness_key ?? '';
    const tenants = await readyTenants(this.db);
    const facts = await readFacts(this.db, this.dialect, this.flowPolicy, tenants, false, NO_OVERRIDES);
    const order = nextTenants(facts, tenants.length > 0 ? tenants : [tenant], tenants.length);
    return {
      tenant,
      weight: weightOf(this.flowPolicy, tenant),
      position: order.indexOf(tenant) + 1,
      tenants: tenants.length,
    };
  }

  async reportUsage(taskId: string, agentId: string, usage: Amounts): Promise<'ok' | 'not_found' | 'not_running'> {
    if (!isUuid(taskId)) return 'not_found';
    const n = !isUuid(agentId)
      ? 0
      : await this.db.run(
          `UPDATE tasks SET usage = ?, updated_at = ? WHERE id = ? AND ${inFrom('complete')} AND assigned_agent = ?`,
          [JSON.stringify(usage), new Date().toISOString(), taskId, agentId],
        );
    if (n > 0) return 'ok';
    const rows = await this.db.all('SELECT 1 AS x FROM tasks WHERE id = ?', [taskId]);
    return rows.length === 0 ? 'not_found' : 'not_running';
  }

  /** Whether any rate or budget rule exists (else no bucket exists, and ends settle nothing). */
  protected async anyBucketRule(tx: Executor): Promise<boolean> {
    const p = this.flowPolicy;
    const o = await this.overrides(tx);
    return Object.keys(p.rate).length + Object.keys(p.budget).length + o.rate.size + o.budget.size > 0;
  }

  /** Settles what the ended attempts reserved (rows without concurrency_keys, or none read, settle nothing). */
  protected async settle(tx: Executor, ended: readonly Ended[]): Promise<void> {
    const relevant = ended.filter((e) => e.row['concurrency_keys'] !== null && e.row['concurrency_keys'] !== undefined);
    if (relevant.length === 0 || !(await this.anyBucketRule(tx))) return;
    const overrides = await this.overrides(tx);
    const writes: BucketWrite[] = [];
    for (const e of relevant) {
      const task = { keys: keysOf(this.dialect, e.row), cost: amountsOf(this.dialect, e.row['cost']) };
      writes.push(...settlement(this.flowPolicy, overrides, task, amountsOf(this.dialect, e.row['usage']), e.released));
    }
    await creditBuckets(tx, writes);
  }
}
