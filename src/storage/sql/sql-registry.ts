/** The SQL store's registry layer: agents and cluster membership. */
import { randomUUID } from 'node:crypto';
import { EMPTY_STATS, type Agent, type NewAgent, type TaskStatus } from '../../domain/index.js';
import type { AgentFilter, AgentPatch, Member, MemberAddress, Page } from '../store.js';
import { rowToAgent, rowToMember, toJson } from './rows.js';
import { REQUEUE_SET, inFrom } from './lifecycle-sql.js';
import { SqlBase, Where, isUuid } from './sql-base.js';

export class SqlRegistry extends SqlBase {
  async createAgent(agent: NewAgent, nodeId: string): Promise<Agent> {
    const now = new Date().toISOString();
    const rows = await this.db.all(
      `INSERT INTO agents (id, name, type, state, kind, executor, capabilities, node_id, stats, max_concurrency, owner, created_at, updated_at)
       VALUES (?, ?, ?, 'idle', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      [
        randomUUID(),
        agent.name,
        agent.type,
        agent.kind,
        agent.executor,
        toJson(agent.capabilities),
        nodeId,
        toJson(EMPTY_STATS),
        agent.max_concurrency,
        agent.owner ?? null,
        now,
        now,
      ],
    );
    return rowToAgent(this.dialect, rows[0] ?? {});
  }

  async getAgent(id: string): Promise<Agent | undefined> {
    if (!isUuid(id)) return undefined;
    const rows = await this.db.all('SELECT * FROM agents WHERE id = ?', [id]);
    return rows[0] === undefined ? undefined : rowToAgent(this.dialect, rows[0]);
  }

  async listAgents(f: AgentFilter): Promise<Page<Agent>> {
    const w = new Where();
    if (f.state !== undefined) w.add('state = ?', f.state);
    if (f.type !== undefined) w.add('type = ?', f.type);
    if (f.kind !== undefined) w.add('kind = ?', f.kind);
    if (f.nodeId !== undefined) w.add('node_id = ?', f.nodeId);
    if (f.capability !== undefined)
      w.add(this.dialect.jsonArrayHasName('capabilities'), this.dialect.jsonArrayHasNameParam(f.capability));
    return this.page('agents', w, 'created_at, id', f, (r) => rowToAgent(this.dialect, r));
  }

  async updateAgent(id: string, patch: AgentPatch): Promise<Agent | undefined> {
    if (!isUuid(id)) return undefined;
    const sets: string[] = ['updated_at = ?'];
    const params: unknown[] = [new Date().toISOString()];
    const set = (column: string, value: unknown): void => {
      sets.push(`${column} = ?`);
      params.push(value);
    };
    if (patch.name !== undefined) set('name', patch.name);
    if (patch.type !== undefined) set('type', patch.type);
    if (patch.state !== undefined) set('state', patch.state);
    if (patch.paused !== undefined) set('paused', this.dialect.bool(patch.paused));
    if (patch.max_concurrency !== undefined) set('max_concurrency', patch.max_concurrency);
    if (patch.capabilities !== undefined) set('capabilities', toJson(patch.capabilities));
    if (patch.stats !== undefined) set('stats', toJson(patch.stats));
    const rows = await this.db.all(`UPDATE agents SET ${sets.join(', ')} WHERE id = ? RETURNING *`, [...params, id]);
    return rows[0] === undefined ? undefined : rowToAgent(this.dialect, rows[0]);
  }

  async deleteAgent(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    return (await this.db.run('DELETE FROM agents WHERE id = ?', [id])) > 0;
  }

  async joinCluster(m: MemberAddress): Promise<Member> {
    const now = new Date().toISOString();
    const rows = await this.db.all(
      `INSERT INTO cluster_members (node_id, address, grpc_port, http_port, epoch, status, heartbeat_at, started_at, updated_at)
       VALUES (?, ?, ?, ?, 1, 'joining', ?, ?, ?)
       ON CONFLICT (node_id) DO UPDATE SET address = excluded.address, grpc_port = excluded.grpc_port, http_port = excluded.http_port,
         epoch = cluster_members.epoch + 1, status = 'joining', heartbeat_at = excluded.heartbeat_at, started_at = excluded.started_at, updated_at = excluded.updated_at
       RETURNING *`,
      [m.node_id, m.address, m.grpc_port, m.http_port, now, now, now],
    );
    return rowToMember(rows[0] ?? {});
  }

  async heartbeatMember(nodeId: string, epoch: number): Promise<Member | undefined> {
    const now = new Date().toISOString();
    const rows = await this.db.all(
      `UPDATE cluster_members SET heartbeat_at = ?, status = 'active', updated_at = ? WHERE node_id = ? AND epoch = ? AND status IN ('joining', 'active', 'suspect') RETURNING *`,
      [now, now, nodeId, epoch],
    );
    return rows[0] === undefined ? undefined : rowToMember(rows[0]);
  }

  async listMembers(): Promise<Member[]> {
    return (await this.db.all('SELECT * FROM cluster_members ORDER BY node_id')).map(rowToMember);
  }

  async suspectMember(nodeId: string, epoch: number): Promise<boolean> {
    const n = await this.db.run(
      `UPDATE cluster_members SET status = 'suspect', updated_at = ? WHERE node_id = ? AND epoch = ? AND status = 'active'`,
      [new Date().toISOString(), nodeId, epoch],
    );
    return n > 0;
  }

  async declareMemberDead(
    nodeId: string,
    epoch: number,
    staleBefore: string,
    byNode: string,
  ): Promise<{ released: number; agents: number } | undefined> {
    return this.db.transaction(async (tx) => {
      const now = new Date().toISOString();
      const dead = await tx.all(
        `UPDATE cluster_members SET status = 'dead', updated_at = ? WHERE node_id = ? AND epoch = ? AND status IN ('joining', 'active', 'suspect') AND heartbeat_at < ? RETURNING node_id`,
        [now, nodeId, epoch, staleBefore],
      );
      if (dead.length === 0) return undefined;
      const held = await tx.all(
        `SELECT id, status FROM tasks WHERE lease_owner = ? AND ${inFrom('requeue')}${this.dialect.rowLock}`,
        [nodeId],
      );
      await tx.run(`UPDATE tasks SET ${REQUEUE_SET}, updated_at = ? WHERE lease_owner = ? AND ${inFrom('requeue')}`, [
        now,
        nodeId,
      ]);
      for (const t of held) {
        await this.insertEvent(tx, String(t['id']), t['status'] as TaskStatus, 'pending', null, byNode, {
          reason: `node ${nodeId} was declared dead`,
          previous_owner: nodeId,
        });
      }
      const agents = await tx.run(
        `UPDATE agents SET state = 'offline', updated_at = ? WHERE node_id = ? AND state <> 'offline'`,
        [now, nodeId],
      );
      return { released: held.length, agents };
    });
  }

  async leaveCluster(nodeId: string, epoch: number): Promise<void> {
    await this.db.run(`UPDATE cluster_members SET status = 'left', updated_at = ? WHERE node_id = ? AND epoch = ?`, [
      new Date().toISOString(),
      nodeId,
      epoch,
    ]);
  }
}
