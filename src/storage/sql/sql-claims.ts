/** The SQL store's claims: fair and flow-controlled (sql-flow.ts), or plain by priority. */
import {
  DEFAULT_TENANT,
  blockedKeys,
  planClaim,
  weightOf,
  type FlowPolicy,
  type KeyBlock,
  type Task,
} from '../../domain/index.js';
import type { ClaimRequest } from '../store.js';
import type { Executor } from './executor.js';
import { rowToTask } from './rows.js';
import { inFrom, setStatus } from './lifecycle-sql.js';
import { Where } from './sql-base.js';
import { SqlSchedules } from './sql-schedules.js';
import { candidates, nextTenants, readFacts, probeFlow, readyTenants, writeBuckets, writeTenants } from './sql-flow.js';

/**
 * How many candidates a claim fetches of each tenant: all it asks for when one
 * tenant waits; else about the tenant's share of it by weight, with room to
 * spare (the claim signals when a tenant had more than that).
 */
function fetchLimits(policy: FlowPolicy, tenants: readonly string[], limit: number): (tenant: string) => number {
  if (tenants.length <= 1) return () => limit;
  const total = tenants.reduce((sum, t) => sum + weightOf(policy, t), 0);
  return (t) => Math.min(limit, Math.ceil((limit * weightOf(policy, t)) / total) + 32);
}

export abstract class SqlClaims extends SqlSchedules {
  /**
   * Claims by fair share and flow rules (sql-flow.ts, domain/flow-plan.ts)
   * when several tenants have ready work or a pending task carries a key or a
   * cost; otherwise by priority alone, as one plain claim. Manual assignment
   * (`ids`) is an operator's decision and bypasses flow rules.
   */
  async claimTasks(req: ClaimRequest): Promise<Task[]> {
    if (req.limit <= 0 || (req.ids !== undefined && req.ids.length === 0)) return [];
    if (req.ids !== undefined) return this.claimPlain(req, false);
    const { flowed, tenanted } = await probeFlow(this.db);
    const tenants = tenanted ? await readyTenants(this.db) : [DEFAULT_TENANT];
    if (tenants.length === 0) return [];
    if (tenants.length === 1 && !flowed) return this.claimPlain(req, true);
    return this.db.transaction((tx) => this.claimFair(tx, req, tenants, flowed));
  }

  private async claimFair(tx: Executor, req: ClaimRequest, tenants: string[], flowed: boolean): Promise<Task[]> {
    if (this.dialect.flowLock !== undefined) await tx.all(this.dialect.flowLock);
    const facts = await readFacts(tx, this.dialect, this.flowPolicy, tenants, flowed, await this.overrides(tx));
    const blocked = flowed ? blockedKeys(facts) : new Map<string, KeyBlock>();
    const now = new Date(facts.now);
    const next = nextTenants(facts, tenants);
    const fetch = fetchLimits(this.flowPolicy, next, req.limit);
    const byTenant = await candidates(tx, this.dialect, this.claimWhere(req, now), next, [...blocked.keys()], fetch);
    const plan = planClaim(facts, byTenant, req.limit, blocked);
    // Fewer than asked while some tenant had more than was fetched: the claimer should claim again at once.
    const more = [...byTenant].some(
      ([t, list]) => list.length === fetch(t) && (plan.consumed.get(t) ?? 0) >= list.length,
    );
    if (more && plan.admitted.length < req.limit) req.onMore?.();
    const tasks = await this.markClaimed(
      tx,
      plan.admitted.map((c) => c.id),
      req,
      now,
    );
    await writeBuckets(tx, plan.buckets, facts.now);
    // One tenant alone needs no virtual times: when others come, all start at the clock it left.
    if (byTenant.size > 1 && plan.tenants.size > 0) await writeTenants(tx, plan.tenants, plan.clock);
    req.onRefused?.(plan.refused, blocked);
    return tasks;
  }

  /** Claims by priority alone (`unflowedOnly`: never a task with a key or a cost, which only fair claims take). */
  protected async claimPlain(req: ClaimRequest, unflowedOnly: boolean): Promise<Task[]> {
    return this.db.transaction(async (tx) => {
      const now = new Date();
      const w = this.claimWhere(req, now, unflowedOnly);
      const ids = await tx.all(
        `SELECT id FROM tasks${w.sql} ORDER BY priority_rank DESC, ${this.dialect.insertOrder} LIMIT ?${this.dialect.claimLock}`,
        [...w.params, req.limit],
      );
      return this.markClaimed(
        tx,
        ids.map((r) => String(r['id'])),
        req,
        now,
      );
    });
  }

  /** Claims these pending tasks for the node (a lease, a new epoch, one more attempt); returns them in the given order. */
  private async markClaimed(tx: Executor, ids: readonly string[], req: ClaimRequest, now: Date): Promise<Task[]> {
    if (ids.length === 0) return [];
    const rows = await tx.all(
      `UPDATE tasks SET ${setStatus('claim')}, lease_owner = ?, lease_expires_at = ?, lease_epoch = lease_epoch + 1, attempts = attempts + 1,
         claimed_at = ?, updated_at = ? WHERE ${this.dialect.idIn('id')} AND ${inFrom('claim')} RETURNING *`,
      [
        req.nodeId,
        new Date(now.getTime() + req.leaseMs).toISOString(),
        now.toISOString(),
        now.toISOString(),
        this.dialect.idsParam(ids),
      ],
    );
    const order = new Map(ids.map((id, i) => [id, i]));
    return rows.map((r) => rowToTask(this.dialect, r)).sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  }

  /** Which tasks a claim may take: pending, ready (or the ids asked for), requirements on offer. */
  protected claimWhere(req: ClaimRequest, now: Date, unflowedOnly = false): Where {
    const w = new Where();
    w.add(inFrom('claim'));
    if (unflowedOnly) w.add('flowed = 0');
    if (req.ids !== undefined) w.add(`id IN (${req.ids.map(() => '?').join(', ')})`, ...req.ids);
    else w.add('deps_pending = 0 AND (run_at IS NULL OR run_at <= ?)', now.toISOString());
    if (req.offer !== undefined)
      w.add(this.dialect.capabilitiesMet('required_capabilities'), JSON.stringify(req.offer));
    return w;
  }
}
