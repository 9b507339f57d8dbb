/** The hive and the neural processor, transport-neutral: hive status, text analysis, and the neural module's operations. */
import { parseAnalyzeBatch, parseAnalyzeText } from '../domain/index.js';
import { HubError } from '../errors/index.js';
import type { Hive } from '../../actors/hive/hive.js';
import type { HiveStatus } from '../../actors/swarm-coordinator/messages.js';
import type { Analysis } from '../neural/engine.js';
import type { CallOptions } from './tasks.js';

export class HiveApi {
  constructor(private readonly hive: Hive) {}

  private get swarm() {
    return this.hive.to(this.hive.modules.swarm_coordinator);
  }

  private get neural() {
    return this.hive.to(this.hive.modules.neural);
  }

  /** Hive-wide counts and rates, modules and nodes. */
  status(o: CallOptions = {}): Promise<HiveStatus> {
    return this.swarm('hive.status', {}, o.timeoutMs);
  }

  /** `{text}`: one analysis. */
  async analyze(body: unknown, o: CallOptions = {}): Promise<Analysis> {
    const text = parseAnalyzeText(body);
    const [a] = await this.neural('neural.analyze', { texts: [text] }, o.timeoutMs);
    if (a === undefined) throw new HubError('INTERNAL', 'the neural processor answered nothing');
    return a;
  }

  /** `{texts}`: 1 to MAX_ANALYZE_BATCH analyses, in order. */
  analyzeBatch(body: unknown, o: CallOptions = {}): Promise<Analysis[]> {
    const texts = parseAnalyzeBatch(body);
    return this.neural('neural.analyze', { texts }, o.timeoutMs);
  }

  neuralStatus(o: CallOptions = {}): Promise<Record<string, unknown>> {
    return this.neural('neural.status', {}, o.timeoutMs);
  }

  clearNeuralCache(): Promise<{ cleared: number }> {
    return this.neural('neural.clear_cache', {});
  }

  retrainFitModel(): Promise<{ version: number | null; samples: number }> {
    return this.neural('neural.retrain', {});
  }
}
