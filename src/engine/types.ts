/** The engine's options, its figures, and what it reports to the modules (on the event bus, topic `engine`). */
import type { BackoffPolicy, Task } from '../domain/index.js';
import type { HubConfig } from '../config/index.js';
import type { EventBus } from '../runtime/index.js';
import type { Logger } from '../log/logger.js';
import type { FlowStore, ScheduleStore, TaskStore, WorkflowStore } from '../storage/index.js';
import { taskDefaultsOf, type TaskDefaults } from '../domain/index.js';
import type { FlowFigures } from './flow-stats.js';
import type { FitSample } from '../neural/fit-features.js';
import { AbortReason } from './execute.js';
import type { Handler } from './handler.js';
import type { Sessions } from './sessions.js';

export interface EngineOptions {
  store: TaskStore & Pick<FlowStore, 'recordWaits' | 'ageTasks'> & WorkflowStore & ScheduleStore;
  events: EventBus;
  log: Logger;
  nodeId: string;
  handlers: ReadonlyMap<string, Handler>;
  /** Remote agents' sessions (the gRPC AgentService adds them); a node without gRPC has none. */
  sessions?: Sessions;
  defaultExecutor: string;
  /** The units a usage report may name ([flow] units). */
  units: readonly string[];
  /** [flow] aging_ms. */
  agingMs: number;
  /** How scheduled tasks are built from their templates (the submission defaults). */
  taskDefaults: TaskDefaults;
  /** [workflows]. */
  workflows: { scheduleGraceMs: number; progress: { keep: number; chunkBytes: number; flushMs: number } };
  /** Creates children of a task for a handler's ctx.spawn (main wires it to task_management). */
  spawn?: ((parentId: string, tasks: readonly unknown[]) => Promise<Task[]>) | undefined;
  leaseMs: number;
  claimBatch: number;
  prefetch: number;
  flushWindowMs: number;
  flushMax: number;
  backoff: BackoffPolicy;
}

/** What an engine is built with besides its settings. */
export type EngineParts = Pick<
  EngineOptions,
  'store' | 'events' | 'log' | 'nodeId' | 'handlers' | 'sessions' | 'spawn'
>;

/** The engine's options from the [tasks] and [agents] settings. */
export function engineOptions(config: HubConfig, parts: EngineParts): EngineOptions {
  const t = config.tasks;
  return {
    ...parts,
    defaultExecutor: config.agents.default_executor,
    units: config.flow.units,
    agingMs: config.flow.aging_ms,
    taskDefaults: taskDefaultsOf(config),
    workflows: {
      scheduleGraceMs: config.workflows.schedule_grace_ms,
      progress: {
        keep: config.workflows.progress_keep,
        chunkBytes: config.workflows.progress_chunk_bytes,
        flushMs: config.workflows.progress_flush_ms,
      },
    },
    leaseMs: t.lease_ms,
    claimBatch: t.claim_batch,
    prefetch: t.prefetch,
    flushWindowMs: t.flush_window_ms,
    flushMax: t.flush_max,
    backoff: {
      initialMs: t.backoff_initial_ms,
      maxMs: t.backoff_max_ms,
      multiplier: t.backoff_multiplier,
      jitter: t.backoff_jitter,
    },
  };
}

/** What one agent's tasks did in one stored batch (event `engine.outcomes`). */
export interface AgentOutcome {
  agentId: string;
  completed: number;
  failed: number;
  durationMsTotal: number;
  /** Per task that ended: its requirements and whether it succeeded (agents learn from it). */
  results: Array<{ required: Task['required_capabilities']; success: boolean }>;
}

/** This node's workflow figures (workflows.ts). */
export interface WorkflowCounts {
  woken: number;
  wait_timeouts: number;
  schedule_fired: number;
  schedule_skipped: number;
  progress_reported: number;
  progress_stored: number;
  progress_dropped: number;
}

/** A part of the engine failed in a way that is not an outage (event `engine.fault`): its supervisor restarts it. */
export interface EngineFault {
  part: EnginePart;
  error: string;
}

export type EnginePart = 'claim' | 'writer' | 'lease_keeper';

/**
 * The neural processor's agent-fit model, as the engine uses it: P(success) for
 * (task, agent) pairs, and the outcomes to learn from.
 */
export interface FitModel {
  score(features: Float32Array, rows: number): Promise<Float32Array>;
  record(samples: FitSample[]): void;
}

/** The engine's counters (the parts share one object; stats() reads it). */
export interface EngineCounters {
  fit_scored: number;
  fit_failures: number;
  handoffs: number;
  claims: number;
  claimed: number;
  released: number;
  flushes: number;
  stored_finishes: number;
  stale_finishes: number;
  retries_scheduled: number;
  dead: number;
  lease_extensions: number;
  expired_requeued: number;
  /** Tasks raised a priority level by aging ([flow] aging_ms). */
  aged: number;
  steals: number;
  steal_attempts: number;
}

export function newCounters(): EngineCounters {
  return {
    fit_scored: 0,
    fit_failures: 0,
    handoffs: 0,
    claims: 0,
    claimed: 0,
    released: 0,
    flushes: 0,
    stored_finishes: 0,
    stale_finishes: 0,
    retries_scheduled: 0,
    dead: 0,
    lease_extensions: 0,
    expired_requeued: 0,
    aged: 0,
    steals: 0,
    steal_attempts: 0,
  };
}

export interface EngineStats extends Omit<EngineCounters, 'steals' | 'steal_attempts'> {
  buffered: number;
  running: number;
  capacity: number;
  work_stealing: { steals: number; attempts: number; deques: Record<string, number> };
  /** This node's flow figures (flow-stats.ts). */
  flow?: FlowFigures;
  /** This node's workflow figures: wakes, timeouts, schedule ticks, progress. */
  workflows?: WorkflowCounts;
}

/** Requeue on abort: the task goes back to pending (agent removed, node stopping). */
export class RequeueReason extends AbortReason {
  constructor(message: string) {
    super('cancelled', message);
  }
}
