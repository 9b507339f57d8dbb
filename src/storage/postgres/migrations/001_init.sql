-- Agents, tasks and the task event log.
CREATE TABLE agents (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  type text NOT NULL CHECK (type IN ('worker', 'coordinator', 'specialist', 'learner')),
  state text NOT NULL CHECK (state IN ('idle', 'working', 'learning', 'failed', 'offline')),
  kind text NOT NULL CHECK (kind IN ('local', 'remote')),
  executor text,
  capabilities jsonb NOT NULL DEFAULT '[]',
  node_id text NOT NULL,
  stats jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_agents_capabilities ON agents USING GIN (capabilities);
CREATE INDEX idx_agents_state ON agents (state);
CREATE INDEX idx_agents_node ON agents (node_id);

CREATE TABLE tasks (
  id uuid PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  title text NOT NULL,
  description text NOT NULL DEFAULT '',
  type text NOT NULL DEFAULT 'general',
  priority text NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'critical')),
  priority_rank smallint NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'assigned', 'running', 'completed', 'failed', 'dead', 'cancelled')),
  required_capabilities jsonb NOT NULL DEFAULT '[]',
  payload jsonb,
  result jsonb,
  error jsonb,
  assigned_agent uuid,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  timeout_ms integer NOT NULL,
  run_at timestamptz,
  lease_owner text,
  lease_expires_at timestamptz,
  lease_epoch bigint NOT NULL DEFAULT 0,
  idempotency_key text UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  completed_at timestamptz
);
CREATE INDEX idx_tasks_status_created ON tasks (status, created_at);
CREATE INDEX idx_tasks_ready ON tasks (priority_rank DESC, seq) WHERE status = 'pending';
CREATE INDEX idx_tasks_assigned_agent ON tasks (assigned_agent);
CREATE INDEX idx_tasks_lease ON tasks (lease_expires_at) WHERE status IN ('assigned', 'running');
CREATE INDEX idx_tasks_required_capabilities ON tasks USING GIN (required_capabilities);

CREATE TABLE task_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  from_status text,
  to_status text NOT NULL,
  agent_id uuid,
  node_id text,
  detail jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_task_events_task ON task_events (task_id, id);
