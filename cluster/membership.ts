/**
 * Cluster membership over the shared database (the cluster_members table is the
 * arbiter, as Orleans uses a SQL membership table) plus gRPC probes.
 *
 * Every [cluster] heartbeat_interval_ms each node:
 * - writes its heartbeat. If its row no longer holds its epoch as a live node it
 *   was declared dead: it stops claiming (its leases were released), rejoins with
 *   a new epoch, and claims again;
 * - reads the members (the peers the transport links to);
 * - probes up to probe_peers peers (grpc.health.v1 Check); two failures in a row
 *   make a peer suspect, as does a heartbeat older than suspect_after_ms;
 * - declares dead a peer whose heartbeat is older than dead_after_ms and that
 *   fails a probe now. The database releases its leases in the same transaction,
 *   so its tasks are claimable at once, not at lease expiry.
 * Heartbeat ages are measured with the clocks of the nodes: keep them in sync (NTP).
 */
import type { Logger } from '../src/log/logger.js';
import { errorMessage } from '../src/errors/index.js';
import type { Member, MemberAddress, MembershipStore } from '../src/storage/index.js';

export interface MembershipOptions {
  store: MembershipStore;
  self: MemberAddress;
  log: Logger;
  heartbeatIntervalMs: number;
  suspectAfterMs: number;
  deadAfterMs: number;
  probePeers: number;
  /** True when the peer answers (a gRPC health check within the probe timeout). */
  probe: (member: Member) => Promise<boolean>;
  /** After each read of the table: the members, this node included. */
  onMembers: (members: readonly Member[]) => void;
  /** This node was declared dead: stop claiming (returns once done); it rejoins next. */
  onEvicted: (reason: string) => void;
  /** Rejoined with a new epoch after an eviction: claim again. */
  onRejoined: (epoch: number) => void;
}

const LIVE = new Set(['joining', 'active', 'suspect']);

export class Membership {
  private epochNow = 0;
  private members: readonly Member[] = [];
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private readonly probeFailures = new Map<string, number>();
  private readonly c = {
    heartbeats: 0,
    heartbeat_failures: 0,
    probes: 0,
    probe_failures: 0,
    suspected: 0,
    declared_dead: 0,
    released_leases: 0,
    evictions: 0,
  };

  constructor(private readonly o: MembershipOptions) {}

  get epoch(): number {
    return this.epochNow;
  }

  get nodeId(): string {
    return this.o.self.node_id;
  }

  /** The last read of the table. */
  list(): readonly Member[] {
    return this.members;
  }

  /** Live members other than this node. */
  peers(): Member[] {
    return this.members.filter((m) => m.node_id !== this.o.self.node_id && LIVE.has(m.status));
  }

  stats(): typeof this.c & { epoch: number; members: number; live: number } {
    return {
      ...this.c,
      epoch: this.epochNow,
      members: this.members.length,
      live: this.members.filter((m) => LIVE.has(m.status)).length,
    };
  }

  async join(): Promise<Member> {
    const me = await this.o.store.joinCluster(this.o.self);
    this.epochNow = me.epoch;
    this.o.log.info(
      { event: 'cluster.joined', epoch: me.epoch, address: me.address, grpc_port: me.grpc_port },
      `joined the cluster as ${me.node_id} (epoch ${me.epoch})`,
    );
    await this.refresh();
    return me;
  }

  /** After the join, once the node serves (its runner claims): the first heartbeat makes it active, then one every interval. */
  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.o.heartbeatIntervalMs);
    this.timer.unref();
  }

  /** A clean stop: no more heartbeats, status left. */
  async leave(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    while (this.ticking) await new Promise((r) => setTimeout(r, 5));
    await this.o.store.leaveCluster(this.o.self.node_id, this.epochNow);
    this.o.log.info({ event: 'cluster.left', epoch: this.epochNow }, `left the cluster (epoch ${this.epochNow})`);
  }

  /** One round: heartbeat, read members, probe, suspect, declare dead. Exposed for tests. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.heartbeat();
      await this.refresh();
      await this.detect();
    } catch (err) {
      this.c.heartbeat_failures++;
      this.o.log.warn({ err, event: 'cluster.tick_failed' }, `cluster membership round failed: ${errorMessage(err)}`);
    } finally {
      this.ticking = false;
    }
  }

  private async heartbeat(): Promise<void> {
    const me = await this.o.store.heartbeatMember(this.o.self.node_id, this.epochNow);
    if (me !== undefined) {
      this.c.heartbeats++;
      return;
    }
    // Declared dead (we stalled past dead_after_ms): our leases are gone. Stop, then rejoin.
    this.c.evictions++;
    const reason = `node ${this.o.self.node_id} (epoch ${this.epochNow}) was declared dead by the cluster`;
    this.o.log.error(
      { event: 'cluster.evicted', epoch: this.epochNow },
      `${reason}: its leases were released; dropping its work and rejoining`,
    );
    this.o.onEvicted(reason);
    await this.join();
    this.o.onRejoined(this.epochNow);
  }

  private async refresh(): Promise<void> {
    this.members = await this.o.store.listMembers();
    this.o.onMembers(this.members);
  }

  private async detect(): Promise<void> {
    const now = Date.now();
    const peers = this.peers();
    for (const p of this.pickProbes(peers)) {
      this.c.probes++;
      const ok = await this.o.probe(p).catch(() => false);
      const failures = ok ? 0 : (this.probeFailures.get(p.node_id) ?? 0) + 1;
      this.probeFailures.set(p.node_id, failures);
      if (!ok) this.c.probe_failures++;
      if (failures >= 2 && p.status === 'active') await this.suspect(p, `${failures} probes in a row failed`);
    }
    for (const p of peers) {
      const age = now - Date.parse(p.heartbeat_at);
      if (age > this.o.suspectAfterMs && p.status === 'active') await this.suspect(p, `no heartbeat for ${age} ms`);
      if (age > this.o.deadAfterMs) await this.maybeDead(p, age);
    }
  }

  /** Probes the peers most in doubt first (stale heartbeats), then others at random. */
  private pickProbes(peers: Member[]): Member[] {
    const n = this.o.probePeers;
    if (n === 0) return [];
    const doubt = peers.filter((p) => p.status === 'suspect' || (this.probeFailures.get(p.node_id) ?? 0) > 0);
    const rest = peers.filter((p) => !doubt.includes(p)).sort(() => Math.random() - 0.5);
    return [...doubt, ...rest].slice(0, Math.max(n, doubt.length));
  }

  private async suspect(p: Member, why: string): Promise<void> {
    if (await this.o.store.suspectMember(p.node_id, p.epoch)) {
      this.c.suspected++;
      this.o.log.warn(
        { event: 'cluster.suspect', peer: p.node_id, peer_epoch: p.epoch },
        `node ${p.node_id} is suspect: ${why}`,
      );
    }
  }

  private async maybeDead(p: Member, age: number): Promise<void> {
    // Missed heartbeats and a failed probe: a node that still answers on gRPC is left suspect.
    if (await this.o.probe(p).catch(() => false)) return;
    const staleBefore = new Date(Date.now() - this.o.deadAfterMs).toISOString();
    const r = await this.o.store.declareMemberDead(p.node_id, p.epoch, staleBefore, this.o.self.node_id);
    if (r === undefined) return;
    this.c.declared_dead++;
    this.c.released_leases += r.released;
    this.probeFailures.delete(p.node_id);
    this.o.log.warn(
      {
        event: 'cluster.dead',
        peer: p.node_id,
        peer_epoch: p.epoch,
        released: r.released,
        agents_offline: r.agents,
        silent_ms: age,
      },
      `node ${p.node_id} declared dead after ${age} ms without a heartbeat: ${r.released} leases released, ${r.agents} agents offline`,
    );
    await this.refresh();
  }
}
