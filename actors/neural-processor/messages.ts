import type { ReplyTo } from '../../src/runtime/index.js';
import type { Analysis } from '../../src/neural/engine.js';
import type { FitSample } from '../../src/neural/fit-features.js';
import type { InferredCapability } from '../../src/domain/index.js';
import type { ModulePing } from '../../src/runtime/index.js';

/** Messages to the neural processor. Analyses and fit scores are answered when their batch has run; the mailbox never waits for inference. */
export type NeuralMsg =
  | { type: 'neural.analyze'; texts: string[]; replyTo: ReplyTo<Analysis[]> }
  /** The capabilities to record as inferred for each task text (at [neural] inferred_threshold). */
  | { type: 'neural.infer'; texts: string[]; replyTo: ReplyTo<InferredCapability[][]> }
  /** P(success) per row of pair features ([rows, FIT_WIDTH], row-major). */
  | { type: 'neural.fit'; features: Float32Array; rows: number; replyTo: ReplyTo<Float32Array> }
  /** Outcomes to learn from (a notice from the engine). */
  | { type: 'neural.outcomes'; samples: FitSample[] }
  /** Periodic: retrain the fit model if enough new outcomes came in. */
  | { type: 'neural.tick' }
  /** Retrain now on what was recorded (operators, tests); answers the new model version. */
  | { type: 'neural.retrain'; replyTo: ReplyTo<{ version: number | null; samples: number }> }
  | { type: 'neural.status'; replyTo: ReplyTo<Record<string, unknown>> }
  | { type: 'neural.clear_cache'; replyTo: ReplyTo<{ cleared: number }> }
  | ModulePing;
