import type { LOG_LEVELS } from './schema.js';

export type LogLevel = (typeof LOG_LEVELS)[number];

/** The validated, frozen configuration; units are in the key names. */
export interface HubConfig {
  readonly profile: string;
  /** What chose the profile: a file's profile key, HIVE_ENV, a file name, or the default. */
  readonly profile_from: string;
  readonly sources: readonly string[];
  readonly server: {
    host: string;
    port: number;
    workers: number;
    max_body_bytes: number;
    shutdown_grace_ms: number;
    cors_origins: readonly string[];
  };
  readonly database: {
    url: string;
    data_dir: string;
    max_connections: number;
    min_connections: number;
    connection_timeout_seconds: number;
    idle_timeout_seconds: number;
  };
  readonly performance: {
    memory_limit_mb: number;
    memory_warning_threshold: number;
    cpu_warning_threshold: number;
    cpu_cores: number;
  };
  readonly agents: {
    max_agents: number;
    default_pool_size: number;
    default_executor: string;
    default_capabilities: readonly string[];
    executors: Readonly<Record<string, { module: string }>>;
    learning_rate: number;
    pool_min_size: number;
    pool_max_size: number;
    pool_max_concurrency: number;
    scale_up_pending_per_slot: number;
    scale_cooldown_seconds: number;
    offline_retention_seconds: number;
  };
  readonly tasks: {
    max_pending: number;
    default_timeout_ms: number;
    max_attempts: number;
    backoff_initial_ms: number;
    backoff_max_ms: number;
    backoff_multiplier: number;
    backoff_jitter: number;
    lease_ms: number;
    claim_batch: number;
    prefetch: number;
    flush_window_ms: number;
    flush_max: number;
    retention_days: number;
  };
  readonly neural: {
    enabled: boolean;
    gpu_enabled: boolean;
    gpu_memory_limit_mb: number;
    cuda_version: string;
    max_agents: number;
    batch_max: number;
    batch_wait_ms: number;
    cache_size: number;
    inferred_threshold: number;
    infer_capabilities: boolean;
    fit_placement: boolean;
    retrain_interval_seconds: number;
    retrain_min_samples: number;
    retrain_window: number;
    models: Readonly<
      Record<
        string,
        {
          path: string;
          kind: 'text_classifier' | 'agent_fit';
          inputs: readonly string[];
          outputs: readonly string[];
          labels: readonly string[];
        }
      >
    >;
  };
  readonly websocket: {
    max_connections: number;
    heartbeat_interval: number;
    timeout_seconds: number;
    max_message_size_mb: number;
    max_buffered_kb: number;
    broadcast_interval_seconds: number;
  };
  readonly security: {
    enabled: boolean;
    jwt_secret: string;
    jwt_expiration_hours: number;
    refresh_token_expiration_days: number;
    rate_limit_per_second: number;
    rate_limit_burst: number;
    login_max_failures: number;
    login_window_seconds: number;
    login_lockout_seconds: number;
    audit_retention_days: number;
  };
  readonly logging: { level: LogLevel; file: string };
  readonly grpc: {
    enabled: boolean;
    port: number;
    max_message_bytes: number;
    keepalive_time_ms: number;
    keepalive_timeout_ms: number;
    agent_grace_ms: number;
    max_unsent_bytes: number;
  };
  readonly cluster: {
    enabled: boolean;
    node_id: string;
    advertise_address: string;
    heartbeat_interval_ms: number;
    suspect_after_ms: number;
    dead_after_ms: number;
    probe_peers: number;
    probe_timeout_ms: number;
    peer_queue_max: number;
    peer_queue_max_bytes: number;
    batch_max: number;
    ask_timeout_ms: number;
  };
  readonly flow: {
    units: readonly string[];
    aging_ms: number;
    concurrency: Readonly<Record<string, { limit: number }>>;
    rate: Readonly<Record<string, { limit: number; window_ms?: number; burst?: number }>>;
    budget: Readonly<Record<string, { unit: string; per_minute?: number; per_day?: number }>>;
    fairness: Readonly<Record<string, { weight: number }>>;
  };
  readonly workflows: {
    approver_role: 'admin' | 'operator' | 'viewer' | 'agent';
    progress_keep: number;
    progress_chunk_bytes: number;
    progress_flush_ms: number;
    schedule_grace_ms: number;
  };
  readonly supervision: {
    max_restarts: number;
    within_seconds: number;
    backoff_initial_ms: number;
    backoff_max_ms: number;
    ask_timeout_ms: number;
    mailbox_bound: number;
  };
}
