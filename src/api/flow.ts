/**
 * Flow control, transport-neutral: key states, run-time rules per key, and
 * agents' usage reports. Validation here and in the domain; state in storage
 * (cluster-wide), reached through task_management.
 */
import type { Hive } from '../../actors/hive/hive.js';
import type { HubConfig } from '../config/index.js';
import { RULE_KINDS, flowKey, invalid, parseAmounts, parseRule, type RuleKind } from '../domain/index.js';
import { HubError } from '../errors/index.js';
import type { FlowKeyState } from '../storage/index.js';
import { moduleAsker, type CallOptions } from './ask.js';
import { fields, uuid } from './validate.js';

export class FlowApi {
  private readonly ask;
  private readonly units: readonly string[];

  constructor(hive: Hive, config: HubConfig) {
    this.ask = moduleAsker(hive, 'task_management');
    this.units = config.flow.units;
  }

  /** Every key with holders, waiting tasks, buckets or a run-time rule, with its rules and buckets. */
  keys(o?: CallOptions): Promise<FlowKeyState[]> {
    return this.ask('flow.keys', { keys: undefined }, o);
  }

  async key(key: unknown, o?: CallOptions): Promise<FlowKeyState> {
    const [state] = await this.ask('flow.keys', { keys: [flowKey(key, 'key')] }, o);
    if (state === undefined) throw new Error('no state for the key');
    return state;
  }

  /** PUT /api/flow/:kind/:key: one key's rule, over any configured pattern. */
  setRule(kind: unknown, key: unknown, body: unknown, o?: CallOptions): Promise<FlowKeyState> {
    const k = ruleKind(kind);
    const rule = parseRule(k, body, this.units);
    return this.ask('flow.set_rule', { key: flowKey(key, 'key'), kind: k, rule }, o);
  }

  clearRule(kind: unknown, key: unknown, o?: CallOptions): Promise<FlowKeyState> {
    return this.ask('flow.set_rule', { key: flowKey(key, 'key'), kind: ruleKind(kind), rule: undefined }, o);
  }

  /** An agent's usage so far for a task it runs (the last report counts). */
  reportUsage(
    id: unknown,
    body: unknown,
    o?: CallOptions,
  ): Promise<{ task_id: string; usage: Record<string, number> }> {
    const input = fields(body, ['agent_id', 'usage'], true);
    const usage = parseAmounts(input['usage'], 'usage', this.units);
    if (usage === null) throw invalid('usage', 'is required: an object of unit: amount');
    return this.ask(
      'task.report_usage',
      { id: uuid(id, 'id'), agentId: uuid(input['agent_id'], 'agent_id'), usage },
      o,
    );
  }
}

function ruleKind(kind: unknown): RuleKind {
  if (typeof kind !== 'string' || !(RULE_KINDS as readonly string[]).includes(kind))
    throw new HubError(
      'NOT_FOUND',
      `no flow rule kind ${JSON.stringify(kind)}; the kinds are ${RULE_KINDS.join(', ')}`,
      {
        details: { field: 'kind' },
      },
    );
  return kind as RuleKind;
}
