-- Agents, tasks and the task event log. JSON columns hold JSON text; times are ISO 8601 UTC text.
CREATE TABLE agents (
  id text PRIMARY KEY,
  name text NOT NULL,
  type text NOT NULL CHECK (type IN ('worker', 'coordinator', 'specialist', 'learner')),
  state text NOT NULL CHECK (state IN ('idle', 'working', 'learning', 'failed', 'offline')),
  kind text NOT NULL CHECK (kind IN ('local', 'remote')),
  executor text,
  capabilities text NOT NULL DEFAULT '[]' CHECK (json_valid(capabilities)),
  node_id text NOT NULL,
  stats text NOT NULL DEFAULT '{}' CHECK (json_valid(stats)),
  created_at text NOT NULL,
  updated_at text NOT NULL
);
CREATE INDEX idx_agents_state ON agents (state);
CREATE INDEX idx_agents_node ON agents (node_id);

CREATE TABLE tasks (
  id text PRIMARY KEY,
  title text NOT NULL,
  description text NOT NULL DEFAULT '',
  type text NOT NULL DEFAULT 'general',
  priority text NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'critical')),
  priority_rank integer NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'assigned', 'running', 'completed', 'failed', 'dead', 'cancelled')),
  required_capabilities text NOT NULL DEFAULT '[]' CHECK (json_valid(required_capabilities)),
  payload text,
  result text,
  error text,
  assigned_agent text,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  timeout_ms integer NOT NULL,
  run_at text,
  lease_owner text,
  lease_expires_at text,
  lease_epoch integer NOT NULL DEFAULT 0,
  idempotency_key text UNIQUE,
  created_at text NOT NULL,
  updated_at text NOT NULL,
  started_at text,
  completed_at text
);
CREATE INDEX idx_tasks_status_created ON tasks (status, created_at);
CREATE INDEX idx_tasks_ready ON tasks (priority_rank DESC, created_at) WHERE status = 'pending';
CREATE INDEX idx_tasks_assigned_agent ON tasks (assigned_agent);
CREATE INDEX idx_tasks_lease ON tasks (lease_expires_at) WHERE status IN ('assigned', 'running');

CREATE TABLE task_events (
  id integer PRIMARY KEY AUTOINCREMENT,
  task_id text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  from_status text,
  to_status text NOT NULL,
  agent_id text,
  node_id text,
  detail text,
  created_at text NOT NULL
);
CREATE INDEX idx_task_events_task ON task_events (task_id, id);
