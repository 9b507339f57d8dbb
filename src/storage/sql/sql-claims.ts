/** The SQL store's claims: fair and flow-controlled (sql-flow.ts), or plain by priority. */
import { blockedKeys, planClaim, type KeyBlock, type Task } from '../../domain/index.js';
import type { ClaimRequest } from '../store.js';
import type { Executor } from './executor.js';
import { rowToTask } from './rows.js';
import { inFrom, setStatus } from './lifecycle-sql.js';
import { Where } from './sql-base.js';
import { SqlFlowStore } from './sql-flow-store.js';
import {
  anyFlowedPending,
  candidates,
  nextTenants,
  readFacts,
  readyTenants,
  writeBuckets,
  writeTenants,
} from './sql-flow.js';

export class SqlClaims extends SqlFlowStore {
  /**
   * Claims by fair share and flow rules (sql-flow.ts, domain/flow-plan.ts)
   * when several tenants have ready work or a pending task carries a key or a
   * cost; otherwise by priority alone, as one plain claim. Manual assignment
   * (`ids`) is an operator's decision and bypasses flow rules.
   */
  async claimTasks(req: ClaimRequest): Promise<Task[]> {
    if (req.limit <= 0 || (req.ids !== undefined && req.ids.length === 0)) return [];
    if (req.ids !== undefined) return this.claimPlain(req, false);
    const scan = await this.scanTenants();
    if (scan.tenants.length === 0) return [];
    if (scan.tenants.length === 1 && !scan.flowed) return this.claimPlain(req, true);
    return this.db.transaction((tx) => this.claimFair(tx, req, scan.tenants, scan.flowed));
  }

  private async scanTenants(): Promise<{ tenants: string[]; flowed: boolean }> {
    const tenants = await readyTenants(this.db);
    return { tenants, flowed: tenants.length > 0 && (await anyFlowedPending(this.db)) };
  }

  private async claimFair(tx: Executor, req: ClaimRequest, tenants: string[], flowed: boolean): Promise<Task[]> {
    if (this.dialect.flowLock !== undefined) await tx.all(this.dialect.flowLock);
    const facts = await readFacts(tx, this.dialect, this.flowPolicy, tenants, flowed);
    const blocked = flowed ? blockedKeys(facts) : new Map<string, KeyBlock>();
    const now = new Date(facts.now);
    const byTenant = await candidates(
      tx,
      this.dialect,
      this.claimWhere(req, now),
      nextTenants(facts, tenants),
      [...blocked.keys()],
      req.limit,
    );
    const plan = planClaim(facts, byTenant, req.limit, blocked);
    const tasks = await this.markClaimed(
      tx,
      plan.admitted.map((c) => c.id),
      req,
      now,
    );
    await writeBuckets(tx, plan.buckets, facts.now);
    if (plan.tenants.size > 0) await writeTenants(tx, plan.tenants, plan.clock);
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
    const marks = ids.map(() => '?').join(', ');
    const rows = await tx.all(
      `UPDATE tasks SET ${setStatus('claim')}, lease_owner = ?, lease_expires_at = ?, lease_epoch = lease_epoch + 1, attempts = attempts + 1,
         claimed_at = ?, updated_at = ? WHERE id IN (${marks}) AND ${inFrom('claim')} RETURNING *`,
      [req.nodeId, new Date(now.getTime() + req.leaseMs).toISOString(), now.toISOString(), now.toISOString(), ...ids],
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
