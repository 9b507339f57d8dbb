import type { Agent, AgentState, NewAgent } from '../../src/domain/index.js';
import type { ReplyTo } from '../../src/runtime/index.js';
import type { AgentFilter, Page } from '../../src/storage/index.js';
import type { ModulePing } from '../shared/messages.js';

export interface AgentSummary {
  total: number;
  by_state: Record<AgentState, number>;
  local: number;
  remote: number;
  registered_since_start: number;
  removed_since_start: number;
}

/** Commands to agent_management; each replies on replyTo. */
export type AgentManagementMsg =
  | { type: 'agent.register'; agent: NewAgent; replyTo: ReplyTo<Agent> }
  | { type: 'agent.get'; id: string; replyTo: ReplyTo<Agent> }
  | { type: 'agent.list'; filter: AgentFilter; replyTo: ReplyTo<Page<Agent>> }
  | { type: 'agent.remove'; id: string; replyTo: ReplyTo<Agent> }
  | { type: 'agent.summarize'; replyTo: ReplyTo<AgentSummary> }
  | { type: 'agent.ensure_pool'; replyTo: ReplyTo<Agent[]> }
  | ModulePing;
