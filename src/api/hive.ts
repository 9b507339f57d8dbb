/** The hive and the neural processor, transport-neutral: hive status, text analysis, and the neural module's operations. */
import { parseAnalyzeBatch, parseAnalyzeText } from '../domain/index.js';
import { HubError } from '../errors/index.js';
import type { Hive } from '../../actors/hive/hive.js';
import type { HiveStatus } from '../../actors/swarm-coordinator/messages.js';
import type { Analysis } from '../neural/engine.js';
import { moduleAsker, type CallOptions } from './ask.js';

export class HiveApi {
  private readonly swarm;
  private readonly neural;

  constructor(hive: Hive) {
    this.swarm = moduleAsker(hive, 'swarm_coordinator');
    this.neural = moduleAsker(hive, 'neural');
  }

  /** Hive-wide counts and rates, modules and nodes. */
  status(o: CallOptions = {}): Promise<HiveStatus> {
    return this.swarm('hive.status', {}, o);
  }

  /** `{text}`: one analysis. */
  async analyze(body: unknown, o: CallOptions = {}): Promise<Analysis> {
    const text = parseAnalyzeText(body);
    const [a] = await this.neural('neural.analyze', { texts: [text] }, o);
    if (a === undefined) throw new HubError('INTERNAL', 'the neural processor answered nothing');
    return a;
  }

  /** `{texts}`: 1 to MAX_ANALYZE_BATCH analyses, in order. */
  analyzeBatch(body: unknown, o: CallOptions = {}): Promise<Analysis[]> {
    const texts = parseAnalyzeBatch(body);
    return this.neural('neural.analyze', { texts }, o);
  }

  neuralStatus(o: CallOptions = {}): Promise<Record<string, unknown>> {
    return this.neural('neural.status', {}, o);
  }

  clearNeuralCache(): Promise<{ cleared: number }> {
    return this.neural('neural.clear_cache', {});
  }

  retrainFitModel(): Promise<{ version: number | null; samples: number }> {
    return this.neural('neural.retrain', {});
  }
}
