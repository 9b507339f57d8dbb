import { asInput, capabilityName, int, invalid, list, oneOf, str, unit } from './validate.js';

export const AGENT_TYPES = ['worker', 'coordinator', 'specialist', 'learner'] as const;
export const AGENT_STATES = ['idle', 'working', 'learning', 'failed', 'offline'] as const;
export const AGENT_KINDS = ['local', 'remote'] as const;

export type AgentType = (typeof AGENT_TYPES)[number];
export type AgentState = (typeof AGENT_STATES)[number];
export type AgentKind = (typeof AGENT_KINDS)[number];

/** What an agent can do, and how well (0..1). */
export interface Capability {
  name: string;
  proficiency: number;
}

export interface AgentStats {
  tasks_completed: number;
  tasks_failed: number;
  success_rate: number;
  average_duration_ms: number;
}

export interface Agent {
  id: string;
  name: string;
  type: AgentType;
  state: AgentState;
  kind: AgentKind;
  executor: string | null;
  capabilities: Capability[];
  node_id: string;
  stats: AgentStats;
  /** A paused agent finishes what it runs but is given nothing new. */
  paused: boolean;
  /** Most tasks the agent runs at once. */
  max_concurrency: number;
  /** Who registered a remote agent (`key:<id>`, `user:<id>`, `anonymous`); null for local agents. */
  owner: string | null;
  created_at: string;
  updated_at: string;
}

/** A validated request to register an agent. */
export interface NewAgent {
  name: string;
  type: AgentType;
  capabilities: Capability[];
  executor: string | null;
  kind: AgentKind;
  /** A remote agent's principal (see Agent.owner). */
  owner?: string | null;
  max_concurrency: number;
}

/** A validated change to an agent (PATCH /api/agents/:id). */
export interface AgentUpdate {
  name?: string;
  type?: AgentType;
  capabilities?: Capability[];
  max_concurrency?: number;
}

export const EMPTY_STATS: AgentStats = { tasks_completed: 0, tasks_failed: 0, success_rate: 1, average_duration_ms: 0 };

/** Validates an agent registration; throws VALIDATION_FAILED naming the field. */
export function parseNewAgent(body: unknown): NewAgent {
  const input = asInput(body, '(body)', ['name', 'type', 'capabilities', 'executor', 'max_concurrency']);
  const executor = str(input, 'executor', { required: false, maxLength: 64 });
  return {
    name: str(input, 'name', { required: true, maxLength: 128 }),
    type: oneOf(input, 'type', AGENT_TYPES, 'worker'),
    capabilities: parseCapabilities(list(input, 'capabilities', 64)),
    executor: executor === '' ? null : executor,
    kind: 'local',
    max_concurrency: int(input, 'max_concurrency', 1, MAX_CONCURRENCY, 1),
  };
}

export const MAX_CONCURRENCY = 1024;

/** Validates a PATCH body: at least one of name, type, capabilities, max_concurrency. */
export function parseAgentUpdate(body: unknown): AgentUpdate {
  const input = asInput(body, '(body)', ['name', 'type', 'capabilities', 'max_concurrency']);
  if (Object.keys(input).length === 0)
    throw invalid('(body)', 'expected at least one of name, type, capabilities, max_concurrency');
  const update: AgentUpdate = {};
  if (input['name'] !== undefined) update.name = str(input, 'name', { required: true, maxLength: 128 });
  if (input['type'] !== undefined) update.type = oneOf(input, 'type', AGENT_TYPES, 'worker');
  if (input['capabilities'] !== undefined) update.capabilities = parseCapabilities(list(input, 'capabilities', 64));
  if (input['max_concurrency'] !== undefined)
    update.max_concurrency = int(input, 'max_concurrency', 1, MAX_CONCURRENCY, 1);
  return update;
}

/** Capabilities as [{name, proficiency}] or "name" / "name:0.8" strings; names must be unique. */
export function parseCapabilities(items: readonly unknown[], field = 'capabilities'): Capability[] {
  const seen = new Set<string>();
  return items.map((item, i) => {
    const cap = parseCapability(item, `${field}[${i}]`);
    if (seen.has(cap.name)) throw invalid(`${field}[${i}].name`, `duplicate capability "${cap.name}"`);
    seen.add(cap.name);
    return cap;
  });
}

function parseCapability(item: unknown, field: string): Capability {
  if (typeof item === 'string') {
    const [name, prof] = item.split(':');
    return { name: capabilityName(name, field), proficiency: prof === undefined ? 1 : unit(Number(prof), field) };
  }
  const input = asInput(item, field, ['name', 'proficiency']);
  return {
    name: capabilityName(input['name'], `${field}.name`),
    proficiency: input['proficiency'] === undefined ? 1 : unit(input['proficiency'], `${field}.proficiency`),
  };
}
