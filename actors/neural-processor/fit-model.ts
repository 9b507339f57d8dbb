import type { ActorRef, ActorSystem, ReplyTo } from '../../src/runtime/index.js';
import type { FitModel } from '../../src/engine/types.js';
import type { NeuralMsg } from './messages.js';

/** The neural processor's fit model as the engine uses it: through the module, so a restart or a retrained model takes over at once. */
export function neuralFitModel(system: ActorSystem, neural: ActorRef<NeuralMsg>): FitModel {
  return {
    score: (features, rows) =>
      system.ask(
        neural,
        (replyTo: ReplyTo<Float32Array>): NeuralMsg => ({ type: 'neural.fit', features, rows, replyTo }),
        2000,
      ),
    record: (samples) => {
      try {
        system.tell(neural, { type: 'neural.outcomes', samples });
      } catch {
        // restarting or full: these outcomes are not learnt from; the tasks themselves are stored
      }
    },
  };
}
