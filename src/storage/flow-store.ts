/** Flow control's part of the store (docs/flow-control.md). */
import type { Amounts, FairPosition, FlowPolicy, KeyBlock, KeyRules, RuleKind, Task } from '../domain/index.js';

/** One key's flow state, cluster-wide (GET /api/flow/keys, explain, metrics). */
export interface FlowKeyState {
  key: string;
  /** Tasks holding the key (assigned or running). */
  running: number;
  /** Pending tasks that carry the key. */
  waiting: number;
  /** What the tasks holding it reserved, by unit (their cost estimates). */
  reserved: Amounts;
  rules: KeyRules;
  /** Which of the rules was set at run time (PUT /api/flow/:kind/:key). */
  overridden: RuleKind[];
  /** Each bucket's level now and its size; `full_at`: when it is full again (null: it is). */
  buckets: Array<{ name: string; level: number; capacity: number; full_at: string | null }>;
}

/** Flow control's state: run-time rules, buckets, usage reports. */
export interface FlowStore {
  /** The configured rules ([flow]); the store applies them in claims and settlements. */
  configureFlow(policy: FlowPolicy): void;
  /**
   * Aging: raises by one level the claim rank of ready pending tasks that waited
   * `agingMs` since their submission or their last raise (below critical); returns how many.
   */
  ageTasks(agingMs: number, now: Date): Promise<number>;
  /** Records in the tasks' histories why flow rules now hold them back (`detail.waiting`: code, message, key). */
  recordWaits(items: ReadonlyArray<{ id: string; detail: unknown }>, nodeId: string): Promise<void>;
  /** Sets (or with `rule` undefined removes) one key's run-time rule of a kind; false: there was none to remove. */
  setFlowRule(key: string, kind: RuleKind, rule: KeyRules[RuleKind] | undefined): Promise<boolean>;
  /** The state of these keys (all keys with holders, waiting tasks, buckets or rules when undefined). */
  listFlowKeys(keys?: readonly string[]): Promise<FlowKeyState[]>;
  /** Why flow rules hold each of these pending tasks back now, for those they hold (the first key that stops each). */
  flowBlocks(tasks: readonly Task[]): Promise<Map<string, KeyBlock>>;
  /** Ready pending tasks carrying `key` that the claim takes before this one. */
  countKeyAhead(taskId: string, key: string): Promise<number>;
  /** The task's tenant: its weight and its place in fair order among the tenants with ready work (1: next). */
  fairPosition(task: Task): Promise<FairPosition>;
  /**
   * Records a running task's usage so far (it replaces an earlier report; the
   * reservation settles to it when the attempt ends). `not_found`: no such task;
   * `not_running`: it is not running on this agent.
   */
  reportUsage(taskId: string, agentId: string, usage: Amounts): Promise<'ok' | 'not_found' | 'not_running'>;
}
