/**
 * The configuration schema: every key the hub reads, its type and bounds.
 * settings/default.toml holds every key's default value and docs/configuration.md
 * describes every key; tests fail when either misses one of these.
 */
export type KeySpec =
  | { kind: 'int'; min: number; max: number }
  | { kind: 'number'; min: number; max: number }
  | { kind: 'bool' }
  | { kind: 'string'; allowEmpty: boolean }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'string_list' }
  /** `optional`: entry keys a table may leave out (they take a documented default). */
  | { kind: 'table_of'; entry: Readonly<Record<string, KeySpec>>; optional?: readonly string[] };

const int = (min: number, max: number): KeySpec => ({ kind: 'int', min, max });
const num = (min: number, max: number): KeySpec => ({ kind: 'number', min, max });
const bool: KeySpec = { kind: 'bool' };
const str: KeySpec = { kind: 'string', allowEmpty: false };
const optStr: KeySpec = { kind: 'string', allowEmpty: true };
const MAX_MS = 86_400_000;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export const SCHEMA = {
  server: {
    host: str,
    port: int(0, 65535),
    workers: int(0, 256),
    max_body_bytes: int(1024, 1_073_741_824),
    shutdown_grace_ms: int(0, 600_000),
    cors_origins: { kind: 'string_list' },
  },
  database: {
    url: optStr,
    data_dir: str,
    max_connections: int(1, 1000),
    min_connections: int(0, 1000),
    connection_timeout_seconds: int(1, 3600),
    idle_timeout_seconds: int(1, 86_400),
  },
  performance: {
    memory_limit_mb: int(64, 1_048_576),
    memory_warning_threshold: num(1, 100),
    cpu_warning_threshold: num(1, 100),
    cpu_cores: int(0, 1024),
  },
  agents: {
    max_agents: int(1, 1_000_000),
    default_pool_size: int(0, 10_000),
    default_executor: str,
    default_capabilities: { kind: 'string_list' },
    executors: { kind: 'table_of', entry: { module: str } },
    learning_rate: num(0, 1),
    pool_min_size: int(0, 10_000),
    pool_max_size: int(0, 10_000),
    pool_max_concurrency: int(1, 1024),
    scale_up_pending_per_slot: num(0.1, 1_000_000),
    scale_cooldown_seconds: int(1, 86_400),
    offline_retention_seconds: int(0, 31_536_000),
  },
  tasks: {
    max_pending: int(1, 100_000_000),
    default_timeout_ms: int(1, MAX_MS),
    max_attempts: int(1, 1000),
    backoff_initial_ms: int(0, MAX_MS),
    backoff_max_ms: int(0, MAX_MS),
    backoff_multiplier: num(1, 100),
    backoff_jitter: num(0, 1),
    lease_ms: int(100, MAX_MS),
    claim_batch: int(1, 10_000),
    prefetch: int(1, 1000),
    flush_window_ms: int(0, 1000),
    flush_max: int(1, 100_000),
    retention_days: int(0, 36_500),
  },
  neural: {
    enabled: bool,
    gpu_enabled: bool,
    gpu_memory_limit_mb: int(0, 1_048_576),
    cuda_version: optStr,
    max_agents: int(1, 1_000_000),
    batch_max: int(1, 65_536),
    batch_wait_ms: int(0, 1000),
    cache_size: int(0, 10_000_000),
    inferred_threshold: num(0.01, 1),
    infer_capabilities: bool,
    fit_placement: bool,
    retrain_interval_seconds: int(1, 86_400),
    retrain_min_samples: int(1, 10_000_000),
    retrain_window: int(10, 10_000_000),
    models: {
      kind: 'table_of',
      entry: {
        path: str,
        kind: { kind: 'enum', values: ['text_classifier', 'agent_fit'] },
        inputs: { kind: 'string_list' },
        outputs: { kind: 'string_list' },
        labels: { kind: 'string_list' },
      },
    },
  },
  websocket: {
    max_connections: int(0, 1_000_000),
    heartbeat_interval: int(1, 3600),
    timeout_seconds: int(1, 86_400),
    max_message_size_mb: num(0.001, 1024),
    max_buffered_kb: int(1, 1_048_576),
    broadcast_interval_seconds: int(1, 3600),
  },
  security: {
    enabled: bool,
    jwt_secret: optStr,
    jwt_expiration_hours: num(0.001, 8760),
    refresh_token_expiration_days: num(0.01, 3650),
    rate_limit_per_second: num(0, 1_000_000),
    rate_limit_burst: int(1, 10_000_000),
    login_max_failures: int(1, 1000),
    login_window_seconds: int(1, 86_400),
    login_lockout_seconds: int(1, 86_400),
    audit_retention_days: int(0, 36_500),
  },
  logging: {
    level: { kind: 'enum', values: LOG_LEVELS },
    file: optStr,
  },
  grpc: {
    enabled: bool,
    port: int(0, 65535),
    max_message_bytes: int(1024, 1_073_741_824),
    keepalive_time_ms: int(1000, 86_400_000),
    keepalive_timeout_ms: int(100, 600_000),
    agent_grace_ms: int(0, 86_400_000),
    max_unsent_bytes: int(65_536, 1_073_741_824),
  },
  cluster: {
    enabled: bool,
    node_id: optStr,
    advertise_address: optStr,
    heartbeat_interval_ms: int(50, 60_000),
    suspect_after_ms: int(100, 600_000),
    dead_after_ms: int(100, 3_600_000),
    probe_peers: int(0, 64),
    probe_timeout_ms: int(10, 60_000),
    peer_queue_max: int(100, 10_000_000),
    peer_queue_max_bytes: int(65_536, 17_179_869_184),
    batch_max: int(1, 100_000),
    ask_timeout_ms: int(10, 600_000),
  },
  flow: {
    units: { kind: 'string_list' },
    aging_ms: int(0, 31_536_000_000),
    concurrency: { kind: 'table_of', entry: { limit: int(1, 1_000_000_000) } },
    rate: {
      kind: 'table_of',
      entry: { limit: int(1, 1_000_000_000), window_ms: int(1, MAX_MS), burst: int(1, 1_000_000_000) },
      optional: ['window_ms', 'burst'],
    },
    budget: {
      kind: 'table_of',
      entry: { unit: str, per_minute: int(0, 1e15), per_day: int(0, 1e15) },
      optional: ['per_minute', 'per_day'],
    },
    fairness: { kind: 'table_of', entry: { weight: num(0.001, 1_000_000) } },
  },
  workflows: {
    approver_role: { kind: 'enum', values: ['admin', 'operator', 'viewer', 'agent'] },
    progress_keep: int(1, 100_000),
    progress_chunk_bytes: int(16, 1_048_576),
    progress_flush_ms: int(1, 10_000),
    schedule_grace_ms: int(100, 86_400_000),
  },
  supervision: {
    max_restarts: int(0, 1000),
    within_seconds: int(1, 86_400),
    backoff_initial_ms: int(0, 600_000),
    backoff_max_ms: int(0, 600_000),
    ask_timeout_ms: int(1, 600_000),
    mailbox_bound: int(1, 100_000_000),
  },
} as const satisfies Record<string, Record<string, KeySpec>>;

export type SectionName = keyof typeof SCHEMA;

/** Every `section.key` path of the schema, in schema order. */
export function schemaKeyPaths(): string[] {
  return Object.entries(SCHEMA).flatMap(([section, keys]) => Object.keys(keys).map((k) => `${section}.${k}`));
}

/** A human description of what a key accepts, for error messages. */
export function describeSpec(spec: KeySpec): string {
  switch (spec.kind) {
    case 'int':
      return `an integer from ${spec.min} to ${spec.max}`;
    case 'number':
      return `a number from ${spec.min} to ${spec.max}`;
    case 'bool':
      return 'true or false';
    case 'string':
      return spec.allowEmpty ? 'a string' : 'a non-empty string';
    case 'enum':
      return `one of ${spec.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'string_list':
      return 'a list of strings';
    case 'table_of':
      return `a table of tables with keys ${Object.keys(spec.entry).join(', ')}`;
  }
}
