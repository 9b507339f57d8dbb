import type { QueryStats } from './sql/timed-executor.js';
import type { FlowStore } from './flow-store.js';

export type { FlowStore, FlowKeyState } from './flow-store.js';
import type { ScheduleStore, WorkflowStore } from './workflow-store.js';
export type {
  ScheduleStore,
  ScheduleBuild,
  FiredTicks,
  WorkflowStore,
  SignalInput,
  SignalOutcome,
  TaskTreeNode,
  WakeOutcome,
} from './workflow-store.js';
import type {
  Agent,
  AgentKind,
  AgentState,
  AgentStats,
  AgentType,
  Capability,
  Amounts,
  KeyBlock,
  NewAgent,
  NewTask,
  OperationName,
  WaitRequest,
  Priority,
  Task,
  TaskStatus,
} from '../domain/index.js';

export interface PageRequest {
  limit: number;
  offset: number;
}

export interface AgentFilter extends PageRequest {
  state?: AgentState | undefined;
  type?: AgentType | undefined;
  kind?: AgentKind | undefined;
  capability?: string | undefined;
  nodeId?: string | undefined;
}

export interface TaskFilter extends PageRequest {
  /** Oldest first (default) or newest first. */
  order?: 'asc' | 'desc' | undefined;
  status?: TaskStatus | undefined;
  priority?: Priority | undefined;
  agent?: string | undefined;
  capability?: string | undefined;
  /** One of the task's concurrency keys. */
  concurrency_key?: string | undefined;
  /** The task's tenant. */
  fairness_key?: string | undefined;
  /** The stored error's code (failed and dead tasks). */
  error_code?: string | undefined;
  /** Words the title contains, case-insensitively. */
  text?: string | undefined;
  /** Created at or after / before (ISO). */
  created_after?: string | undefined;
  created_before?: string | undefined;
  /** The column the page is ordered by (created_at by default), in `order`. */
  sort?: TaskSort | undefined;
}

export const TASK_SORTS = ['created_at', 'updated_at', 'priority', 'status', 'title'] as const;
export type TaskSort = (typeof TASK_SORTS)[number];

/** Failed or dead tasks of one status and error code (GET /api/tasks/errors). */
export interface ErrorGroup {
  status: 'dead' | 'failed';
  code: string;
  count: number;
  latest_at: string;
  message: string;
}

export interface Page<T> {
  items: T[];
  total: number;
}

export interface AgentPatch {
  name?: string;
  type?: AgentType;
  state?: AgentState;
  capabilities?: Capability[];
  stats?: AgentStats;
  paused?: boolean;
  max_concurrency?: number;
}

/** One recorded lifecycle transition of a task. */
export interface TaskEvent {
  id: number;
  task_id: string;
  from_status: TaskStatus | null;
  to_status: TaskStatus;
  agent_id: string | null;
  node_id: string | null;
  detail: unknown;
  created_at: string;
}

/** The fields a transition may set besides the status. */
export interface TaskPatch {
  assigned_agent?: string | null;
  result?: unknown;
  error?: Task['error'];
  started_at?: string | null;
  completed_at?: string | null;
  lease_owner?: string | null;
  lease_expires_at?: string | null;
  attempts?: number;
  claimed_at?: string | null;
  run_at?: string | null;
  checkpoint?: null;
  resume?: null;
}

/** A compare-and-set move: applied only while the task is in one of `from`; recorded in task_events. */
/** A status change by one operation of the lifecycle (src/domain/lifecycle.ts). */
export interface TaskTransition {
  op: OperationName;
  /** Only from these of the operation's source statuses (a redrive of dead tasks only). */
  only?: readonly TaskStatus[];
  patch?: TaskPatch;
  nodeId: string;
  detail?: unknown;
  /** Fencing: applied only while the task is still on this attempt (a stale executor cannot finish a requeued task). */
  attempt?: number;
  /** Told of other tasks the move changed in its transaction (a waiting parent woken or failed by this child's end). */
  onChanged?: (tasks: Task[]) => void;
}

export interface ClaimRequest {
  nodeId: string;
  limit: number;
  leaseMs: number;
  /** Only tasks whose every requirement is met by one of these: capability name → best proficiency on offer (undefined: any task). */
  offer?: Readonly<Record<string, number>> | undefined;
  /** Only these tasks (manual assignment); they must still be pending. */
  ids?: readonly string[] | undefined;
  /**
   * Told, after a fair claim, which candidates flow rules held back (by task id)
   * and which keys took nothing at all (by key), each with its reason.
   */
  onRefused?: ((refused: ReadonlyMap<string, KeyBlock>, blocked: ReadonlyMap<string, KeyBlock>) => void) | undefined;
  /** Told when a fair claim took fewer than `limit` although more tasks are ready (claim again now). */
  onMore?: (() => void) | undefined;
}

/** How an attempt ended, as the runner reports it to the store (in batches). */
export type FinishStatus = 'completed' | 'failed' | 'dead' | 'pending' | 'waiting';

export interface TaskFinish {
  id: string;
  /** The fencing epoch of the claim: a stale owner's finish does not match and changes nothing. */
  epoch: number;
  status: FinishStatus;
  agentId: string | null;
  result?: unknown;
  /** The result already encoded as JSON (stored as is, not encoded again). */
  resultJson?: string;
  error?: Task['error'];
  startedAt: string | null;
  completedAt: string | null;
  /** For a retry (status pending): when it may run again. */
  runAt?: string | null;
  /** Recorded in task_events for failures, dead letters and retries. */
  detail?: unknown;
  /** The attempt's usage as the agent reported it with its result (replaces an earlier report). */
  usage?: Amounts | null;
  /** For status waiting: what the task waits for, until when, and the checkpoint its next attempt gets. */
  wait?: WaitRequest;
}

export interface FinishOutcome {
  /** Finishes that matched their claim and were stored. */
  applied: Array<{ id: string; status: FinishStatus }>;
  /** Finishes refused because the task moved on (lease expired, cancelled, claimed again). */
  stale: string[];
  /** Tasks cancelled because a task they depend on ended failed, dead or cancelled. */
  cascaded: Task[];
  /** Other tasks whose status changed in the same transaction (docs/workflows.md): parents woken or failed by their children, children cancelled or run again, tasks woken by a signal that was waiting for them. */
  changed: Task[];
}

export interface TaskStart {
  id: string;
  epoch: number;
  agentId: string;
  startedAt: string;
}

export interface StoreContents {
  tasks: number;
  agents: number;
  users: number;
  api_keys: number;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/**
 * Durable state, one interface per concern: the store itself (schema, health),
 * agents, tasks, cluster membership, and security. Two engines (SQLite,
 * PostgreSQL) pass one conformance suite
 * (test/integration/test-store-conformance.test.ts). A part that needs one
 * concern takes that interface (the engine a TaskStore, membership a
 * MembershipStore).
 */
export interface Store
  extends StoreAdmin, AgentStore, TaskStore, FlowStore, WorkflowStore, ScheduleStore, MembershipStore {
  /** Users, refresh tokens, API keys and the audit log. */
  readonly security: SecurityStore;
}

/** The store itself: schema, contents, health, and its connection. */
export interface StoreAdmin {
  readonly engine: 'sqlite' | 'postgres';
  /** Applies pending migrations in one transaction; returns the versions applied. */
  migrate(): Promise<number[]>;
  /** The highest migration applied; 0 for a database the hub never migrated. */
  schemaVersion(): Promise<number>;
  /** How many rows of each kind the store holds (restore refuses a non-empty store; a backup reports them). */
  contents(): Promise<StoreContents>;
  /** Round-trips a trivial query; returns its latency in ms. */
  ping(): Promise<number>;
  poolStats(): PoolStats;
  /** Statement latency measured at the driver. */
  queryStats(): QueryStats;
  /** Why writes fail now (a full disk, a read-only file), until one succeeds again; undefined while they work. */
  writeFailure(): { since: string; error: string } | undefined;
  close(): Promise<void>;
}

export interface AgentStore {
  createAgent(agent: NewAgent, nodeId: string): Promise<Agent>;
  getAgent(id: string): Promise<Agent | undefined>;
  listAgents(filter: AgentFilter): Promise<Page<Agent>>;
  updateAgent(id: string, patch: AgentPatch): Promise<Agent | undefined>;
  deleteAgent(id: string): Promise<boolean>;
}

/** Tasks and their lifecycle: submission, claims with leases, attempts, dependencies. */
export interface TaskStore {
  /**
   * Inserts several tasks in one transaction: all of them are stored, or none.
   * `claims[i]`, when given, stores task i already claimed by this node (direct hand-off).
   */
  createTasks(
    tasks: readonly NewTask[],
    nodeId: string,
    claims?: ReadonlyArray<{ leaseMs: number } | undefined>,
  ): Promise<Array<{ task: Task; created: boolean }>>;
  getTask(id: string): Promise<Task | undefined>;
  listTasks(filter: TaskFilter): Promise<Page<Task>>;
  /** Tasks in these statuses counted by status and error code, the largest group first (at most `limit` groups). */
  groupErrors(statuses: ReadonlyArray<'dead' | 'failed'>, limit: number): Promise<ErrorGroup[]>;
  /** Applies a transition if the task is still in an allowed status; undefined when it is not (or is missing). */
  transitionTask(id: string, transition: TaskTransition): Promise<Task | undefined>;
  /**
   * Claims ready tasks (pending, dependencies done, run_at passed) in priority then
   * FIFO order, leasing them to a node with a new fencing epoch; one statement,
   * never one task to two claimers.
   */
  claimTasks(request: ClaimRequest): Promise<Task[]>;
  /** Records attempts that started (long tasks; short ones go straight to finishTasks). */
  startTasks(items: readonly TaskStart[]): Promise<string[]>;
  /** Stores attempt ends in one transaction, fenced on the claim epoch; readies and cancels dependants. */
  finishTasks(items: readonly TaskFinish[], nodeId: string): Promise<FinishOutcome>;
  /** Puts claimed tasks this node cannot run back to pending (the attempt is not counted), claimable again after delayMs. */
  releaseTasks(
    items: ReadonlyArray<{ id: string; epoch: number }>,
    nodeId: string,
    reason: string,
    delayMs?: number,
  ): Promise<number>;
  /** Extends the leases this node holds; returns how many. */
  extendLeases(nodeId: string, leaseMs: number): Promise<number>;
  /** Requeues tasks whose lease expired (any owner): the owner died or stalled. */
  requeueExpired(nodeId: string, limit: number): Promise<Task[]>;
  /** Cancels every task that depends, directly or not, on these; returns them. */
  cancelDependants(ids: readonly string[], reason: string, nodeId: string): Promise<Task[]>;
  /** The ids a task depends on. */
  listDependencies(taskId: string): Promise<string[]>;
  /** The dependencies of each of these tasks with their statuses (`missing`: the row is gone); tasks without any are absent. */
  listDependencyStatuses(
    taskIds: readonly string[],
  ): Promise<Map<string, Array<{ id: string; status: TaskStatus | 'missing' }>>>;
  /**
   * Calls `onTasks` when any node stores claimable tasks (PostgreSQL LISTEN/NOTIFY),
   * so that idle nodes wake at once instead of at their next poll. Returns a stop
   * function. The embedded store serves one node and never calls it.
   */
  listenForTasks(onTasks: () => void): Promise<() => Promise<void>>;
  /** Tasks in assigned or running whose lease this node holds (recovery after a restart). */
  listLeasedTasks(nodeId: string): Promise<Task[]>;
  listTaskEvents(taskId: string): Promise<TaskEvent[]>;
  countTasksByStatus(): Promise<Record<TaskStatus, number>>;
  /**
   * Pending tasks, counted up to `cap` (a larger count answers `cap`): the room
   * check's read, whose cost follows the queue, not the table's history.
   */
  countPending(cap: number): Promise<number>;
  /** Tasks assigned or running (held by a node): bounded by the cluster's capacity. */
  countInFlight(): Promise<number>;
  /**
   * Deletes at most `limit` ended tasks (completed, failed, dead, cancelled)
   * last changed before `before`, with their events, signals and dependency
   * rows; never one that an open task depends on or is a child of. Returns how many.
   */
  pruneTasks(before: string, limit: number): Promise<number>;
  /** Ready pending tasks (no open dependency, run_at passed) that the claim takes before this one: higher priority, or the same and submitted earlier. */
  countReadyAhead(taskId: string, now: Date): Promise<number>;
}

export interface MembershipStore {
  /** Cluster membership (cluster_members). A join starts a new incarnation: epoch + 1, status joining (its first heartbeat makes it active). */
  joinCluster(member: MemberAddress): Promise<Member>;
  /**
   * Records a heartbeat of this incarnation (and clears a suspicion). Undefined when
   * the row no longer holds this epoch as a live node: it was declared dead (or
   * left, or joined again elsewhere), and must stop and rejoin.
   */
  heartbeatMember(nodeId: string, epoch: number): Promise<Member | undefined>;
  listMembers(): Promise<Member[]>;
  /** Marks a live member suspect (missed heartbeats or failed probes); false when it was not active. */
  suspectMember(nodeId: string, epoch: number): Promise<boolean>;
  /**
   * Declares a member dead if this incarnation's last heartbeat is older than
   * `staleBefore`, and in the same transaction releases its leases (its tasks go
   * back to pending at once) and marks its agents offline. Undefined when
   * another node got there first or the member is alive after all.
   */
  declareMemberDead(
    nodeId: string,
    epoch: number,
    staleBefore: string,
    byNode: string,
  ): Promise<{ released: number; agents: number } | undefined>;
  /** A clean stop: status left. */
  leaveCluster(nodeId: string, epoch: number): Promise<void>;
}

export const MEMBER_STATUSES = ['joining', 'active', 'suspect', 'dead', 'left'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

export interface MemberAddress {
  node_id: string;
  address: string;
  grpc_port: number;
  http_port: number;
}

export interface Member extends MemberAddress {
  epoch: number;
  status: MemberStatus;
  heartbeat_at: string;
  started_at: string;
}

export type { QueryStats };

export * from './security-types.js';
import type { SecurityStore } from './security-types.js';

/** Every agent the filter selects, read page by page (paging is the store's; callers want them all). */
export async function listAllAgents(
  store: Pick<AgentStore, 'listAgents'>,
  filter: Omit<AgentFilter, 'limit' | 'offset'> = {},
): Promise<Agent[]> {
  const agents: Agent[] = [];
  for (let offset = 0; ; offset += 500) {
    const page = await store.listAgents({ ...filter, limit: 500, offset });
    agents.push(...page.items);
    if (page.items.length < 500) return agents;
  }
}
