/** task_management's state and the peers it asks (shared by its files). */
import type { NewTask, TaskStatus } from '../../src/domain/index.js';
import { RateWindow, SampleWindow } from '../../src/metrics/windows.js';
import type { ActorContext, ActorRef, ReplyTo } from '../../src/runtime/index.js';
import type { AgentManagementMsg } from '../agent-management/messages.js';
import type { Submitted, TaskManagementMsg, TaskSummary } from './messages.js';
import type { NeuralMsg } from '../neural-processor/messages.js';

export interface TaskPeers {
  agents?: ActorRef<AgentManagementMsg>;
  neural?: ActorRef<NeuralMsg>;
}

export type Ctx = ActorContext<TaskManagementMsg>;

export interface PendingSubmit {
  task: NewTask;
  replyTo: ReplyTo<Submitted>;
}

/**
 * Submissions waiting for the next group commit, in the module's state: a
 * restart hands them to the next incarnation (spec.handOver); a commit in
 * flight finishes by itself and answers its own submitters.
 */
export interface SubmitQueue {
  items: PendingSubmit[];
  flushing: boolean;
}

export interface State {
  /** Submissions accepted and not stored yet (group commit); a restart hands them to the next incarnation. */
  submits: SubmitQueue;
  pendingRefreshing: boolean;
  /** Pending tasks as last read (countPending), plus this node's submissions since: the room check's estimate. */
  pending: { at: number; value: number } | undefined;
  /** The last count by status and how long it took (summaries share it for a while: countsMaxAgeMs). */
  counts: { at: number; tookMs: number; value: Record<TaskStatus, number> } | undefined;
  since: TaskSummary['since_start'];
  finishes: RateWindow;
  durations: SampleWindow;
}

export function freshState(): State {
  return {
    submits: { items: [], flushing: false },
    pendingRefreshing: false,
    pending: undefined,
    counts: undefined,
    since: { submitted: 0, deduplicated: 0, cancelled: 0, retried: 0, redriven: 0, manual_assignments: 0 },
    finishes: new RateWindow(60),
    durations: new SampleWindow(1024),
  };
}
