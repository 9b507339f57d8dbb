/**
 * neural: the neural processor module. It owns the ONNX Runtime sessions (a
 * NeuralEngine) for text analysis and agent-fit scoring. Inference never holds
 * the mailbox: a request is handed to the engine's micro-batcher and answered
 * when its batch has run, so requests that arrive together share one run.
 *
 * A restart (or reset) opens a new engine from the model files; the old one
 * answers what it already took, then releases its sessions, so a restart under
 * load drops no request. Retrained fit models are kept in the data directory,
 * so what the hub learnt survives restarts.
 */
import path from 'node:path';
import { HubError, assertNever } from '../../src/errors/index.js';
import { NeuralEngine } from '../../src/neural/engine.js';
import { MODELS_DIR } from '../../src/neural/dataset.js';
import type { ActorSpec, ReplyTo } from '../../src/runtime/index.js';
import type { ModuleDeps } from '../shared/deps.js';
import type { NeuralMsg } from './messages.js';

interface State {
  engine: NeuralEngine | undefined;
}

const DISABLED = (): HubError =>
  new HubError(
    'NOT_IMPLEMENTED',
    'the neural processor is disabled ([neural] enabled = false); set it to true to analyse text and score agent fit',
    { details: { module: 'neural' } },
  );

/** Where this node keeps what the neural processor learnt (none for an in-memory store). */
export function neuralStateDir(deps: Pick<ModuleDeps, 'config'>): string | undefined {
  const dir = deps.config.database.data_dir;
  return dir === ':memory:' ? undefined : path.join(dir, 'neural');
}

function settle<R>(replyTo: ReplyTo<R>, work: Promise<R>): void {
  work.then(
    (value) => replyTo.ok(value),
    (err: unknown) =>
      replyTo.fail(
        err instanceof HubError
          ? err
          : new HubError('INTERNAL', `neural inference failed: ${err instanceof Error ? err.message : String(err)}`),
      ),
  );
}

// size: one case per message type.
export function neuralSpec(deps: ModuleDeps): ActorSpec<NeuralMsg, State> {
  // The engine of the current incarnation: the next init closes it once its work is done.
  let current: NeuralEngine | undefined;
  return {
    name: 'neural',
    init: async () => {
      const previous = current;
      current = undefined;
      if (!deps.config.neural.enabled) return { engine: undefined };
      const engine = await NeuralEngine.open({
        config: deps.config,
        modelsDir: MODELS_DIR,
        log: deps.log,
        stateDir: neuralStateDir(deps),
      });
      current = engine;
      if (previous !== undefined) void previous.close();
      return { engine };
    },
    receive: async (state, msg) => {
      const e = state.engine;
      switch (msg.type) {
        case 'neural.analyze':
          if (e === undefined) msg.replyTo.fail(DISABLED());
          else
            settle(
              msg.replyTo,
              msg.texts.length === 1 ? e.analyze(msg.texts[0]!).then((a) => [a]) : e.analyzeMany(msg.texts),
            );
          return state;
        case 'neural.infer':
          if (e === undefined) msg.replyTo.fail(DISABLED());
          else settle(msg.replyTo, e.infer(msg.texts, deps.config.neural.inferred_threshold));
          return state;
        case 'neural.fit':
          if (e === undefined) msg.replyTo.fail(DISABLED());
          else settle(msg.replyTo, e.fit(msg.features, msg.rows));
          return state;
        case 'neural.outcomes':
          e?.record(msg.samples);
          return state;
        case 'neural.tick':
          await e?.maybeRetrain();
          return state;
        case 'neural.retrain':
          if (e === undefined) msg.replyTo.fail(DISABLED());
          else
            msg.replyTo.ok({
              version: (await e.maybeRetrain(true)) ?? null,
              samples: Number((e.status()['fit_training'] as { samples: number }).samples),
            });
          return state;
        case 'neural.status':
          msg.replyTo.ok(e === undefined ? { enabled: false, reason: '[neural] enabled = false' } : e.status());
          return state;
        case 'neural.clear_cache':
          if (e === undefined) msg.replyTo.fail(DISABLED());
          else msg.replyTo.ok({ cleared: e.clearCache() });
          return state;
        case 'module.ping':
          msg.replyTo.ok(true);
          return state;
        default:
          return assertNever(msg);
      }
    },
  };
}
