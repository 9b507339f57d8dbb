/** Agents, transport-neutral: list, register, get, update, remove, pause and resume. */
import { AGENT_KINDS, AGENT_STATES, AGENT_TYPES, parseAgentUpdate, parseNewAgent } from '../domain/index.js';
import type { AgentKind, AgentState, AgentType } from '../domain/index.js';
import type { Page } from '../storage/index.js';
import type { Hive } from '../../actors/hive/hive.js';
import type { AgentView, CancelledView, DrainedView } from '../../actors/agent-management/messages.js';
import { fields, integer, oneOf, optionalName, paging, reason, uuid } from './validate.js';
import { moduleAsker, type CallOptions } from './ask.js';

/** How long a drain waits for the agent's running tasks by default, and at most (ms). */
export const DRAIN_DEFAULT_MS = 30_000;
export const DRAIN_MAX_MS = 600_000;

/** A list request as decoded (undefined: not given). */
export interface AgentListRequest {
  state?: unknown;
  type?: unknown;
  kind?: unknown;
  capability?: unknown;
  limit?: unknown;
  offset?: unknown;
}

export class AgentsApi {
  private readonly ask;

  constructor(hive: Hive) {
    this.ask = moduleAsker(hive, 'agent_management');
  }

  async list(q: AgentListRequest, o?: CallOptions): Promise<Page<AgentView> & { limit: number; offset: number }> {
    const { limit, offset } = paging(q.limit, q.offset);
    const filter = {
      state: oneOf<AgentState>(q.state, AGENT_STATES, 'state'),
      type: oneOf<AgentType>(q.type, AGENT_TYPES, 'type'),
      kind: oneOf<AgentKind>(q.kind, AGENT_KINDS, 'kind'),
      capability: optionalName(q.capability, 'capability'),
      limit,
      offset,
    };
    const page = await this.ask('agent.list', { filter }, o);
    return { ...page, limit, offset };
  }

  register(body: unknown, o?: CallOptions): Promise<AgentView> {
    const agent = parseNewAgent(body);
    return this.ask('agent.register', { agent }, o);
  }

  get(id: unknown, o?: CallOptions): Promise<AgentView> {
    const agentId = uuid(id, 'id');
    return this.ask('agent.get', { id: agentId }, o);
  }

  update(id: unknown, body: unknown, o?: CallOptions): Promise<AgentView> {
    const agentId = uuid(id, 'id');
    const update = parseAgentUpdate(body);
    return this.ask('agent.update', { id: agentId, update }, o);
  }

  /** Its running tasks are aborted and requeued. */
  remove(id: unknown, o?: CallOptions): Promise<AgentView> {
    const agentId = uuid(id, 'id');
    return this.ask('agent.remove', { id: agentId }, o);
  }

  setPaused(id: unknown, paused: boolean, o?: CallOptions): Promise<AgentView> {
    const agentId = uuid(id, 'id');
    return this.ask('agent.set_paused', { id: agentId, paused }, o);
  }

  /** `{timeout_ms?}`: pauses the agent (its queued tasks go to others) and answers once it runs nothing, or after timeout_ms. */
  drain(id: unknown, body: unknown, o?: CallOptions): Promise<DrainedView> {
    const agentId = uuid(id, 'id');
    const t = fields(body, ['timeout_ms'])['timeout_ms'];
    const timeoutMs = t === undefined ? DRAIN_DEFAULT_MS : integer(t, 'timeout_ms', 0, DRAIN_MAX_MS);
    // The ask outlives the wait (and a hop to the agent's node).
    return this.ask('agent.drain', { id: agentId, timeoutMs }, { ...o, timeoutMs: timeoutMs + 10_000 });
  }

  /** `{reason?}`: what the agent runs and holds goes back to pending for other agents. */
  cancelWork(id: unknown, body: unknown, o?: CallOptions): Promise<CancelledView> {
    const agentId = uuid(id, 'id');
    const r = reason(fields(body, ['reason'])['reason'], 'taken from the agent by request');
    return this.ask('agent.cancel_work', { id: agentId, reason: r }, o);
  }

  /** Restarts the agent's actor (rebuilt from storage); a failed agent takes work again. */
  restart(id: unknown, o?: CallOptions): Promise<AgentView> {
    const agentId = uuid(id, 'id');
    return this.ask('agent.restart', { id: agentId }, o);
  }
}
