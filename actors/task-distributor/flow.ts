/** task_management's flow operations: key states, run-time rules and usage reports (all cluster-wide, in storage). */
import type { Amounts, KeyRules, RuleKind } from '../../src/domain/index.js';
import { HubError } from '../../src/errors/index.js';
import type { FlowKeyState } from '../../src/storage/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import type { ModuleDeps } from '../shared/deps.js';

export type FlowMsg =
  /** The state of these keys (every key with holders, waiting tasks, buckets or rules when undefined). */
  | { type: 'flow.keys'; keys: string[] | undefined; replyTo: ReplyTo<FlowKeyState[]> }
  /** Sets one key's run-time rule of a kind (`rule` undefined: removes it); answers the key's state. */
  | {
      type: 'flow.set_rule';
      key: string;
      kind: RuleKind;
      rule: KeyRules[RuleKind] | undefined;
      replyTo: ReplyTo<FlowKeyState>;
    }
  /** A running task's usage so far, from the agent running it. */
  | {
      type: 'task.report_usage';
      id: string;
      agentId: string;
      usage: Amounts;
      replyTo: ReplyTo<{ task_id: string; usage: Amounts }>;
    };

export const FLOW_MSGS = ['flow.keys', 'flow.set_rule', 'task.report_usage'] as const;

export function isFlowMsg(msg: { type: string }): msg is FlowMsg {
  return (FLOW_MSGS as readonly string[]).includes(msg.type);
}

export async function serveFlow(deps: ModuleDeps, msg: FlowMsg): Promise<void> {
  try {
    if (msg.type === 'flow.keys') msg.replyTo.ok(await deps.store.listFlowKeys(msg.keys));
    else if (msg.type === 'flow.set_rule') msg.replyTo.ok(await setRule(deps, msg.key, msg.kind, msg.rule));
    else {
      await reportUsage(deps, msg.id, msg.agentId, msg.usage);
      msg.replyTo.ok({ task_id: msg.id, usage: msg.usage });
    }
  } catch (err) {
    msg.replyTo.fail(err);
  }
}

async function setRule(
  deps: ModuleDeps,
  key: string,
  kind: RuleKind,
  rule: KeyRules[RuleKind] | undefined,
): Promise<FlowKeyState> {
  const changed = await deps.store.setFlowRule(key, kind, rule);
  if (!changed) throw new HubError('NOT_FOUND', `key ${key} has no run-time ${kind} rule`, { details: { key, kind } });
  deps.log.info(
    { event: 'flow.rule', key, kind, rule: rule ?? null },
    `flow: ${kind} rule of ${key} ${rule === undefined ? 'removed' : 'set'}`,
  );
  const [state] = await deps.store.listFlowKeys([key]);
  if (state === undefined) throw new Error(`no state for key ${key}`);
  return state;
}

async function reportUsage(deps: ModuleDeps, id: string, agentId: string, usage: Amounts): Promise<void> {
  const outcome = await deps.store.reportUsage(id, agentId, usage);
  if (outcome === 'not_found')
    throw new HubError('TASK_NOT_FOUND', `no task with id ${id}`, { details: { task_id: id } });
  if (outcome === 'not_running')
    throw new HubError('VALIDATION_FAILED', `agent_id: task ${id} is not running on agent ${agentId}`, {
      details: { field: 'agent_id', task_id: id },
    });
}
