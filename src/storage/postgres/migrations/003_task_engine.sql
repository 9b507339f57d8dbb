-- The durable task engine: claims leased by node with a fencing epoch, dependencies,
-- retries (run_at), and a ready index that holds only claimable tasks (finished
-- tasks leave the hot set, so claims stay fast with a large table).
ALTER TABLE tasks ADD COLUMN claimed_at timestamptz;
ALTER TABLE tasks ADD COLUMN deps_pending integer NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN has_dependants boolean NOT NULL DEFAULT false;

CREATE TABLE task_dependencies (
  task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  depends_on uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  PRIMARY KEY (depends_on, task_id)
);
CREATE INDEX idx_task_dependencies_task ON task_dependencies (task_id);

DROP INDEX idx_tasks_ready;
CREATE INDEX idx_tasks_ready ON tasks (priority_rank DESC, seq) WHERE status = 'pending' AND deps_pending = 0;

-- Every status change rewrites a row and adds an entry to each index: keep few, and keep them small.
-- In-flight tasks (leases: heartbeat by owner, expiry sweep) in one small partial index.
DROP INDEX idx_tasks_lease;
DROP INDEX idx_tasks_lease_owner;
CREATE INDEX idx_tasks_inflight ON tasks (lease_owner, lease_expires_at) WHERE status IN ('assigned', 'running');
-- Idempotency keys are optional: index only the rows that have one.
ALTER TABLE tasks DROP CONSTRAINT tasks_idempotency_key_key;
CREATE UNIQUE INDEX idx_tasks_idempotency_key ON tasks (idempotency_key) WHERE idempotency_key IS NOT NULL;
-- The capability filter of GET /api/tasks is not worth an index update on every transition.
DROP INDEX idx_tasks_required_capabilities;
-- Claims leave assigned_agent empty: index only the rows that have one.
DROP INDEX idx_tasks_assigned_agent;
CREATE INDEX idx_tasks_assigned_agent ON tasks (assigned_agent) WHERE assigned_agent IS NOT NULL;

-- A queue table: rows are updated a few times and then stay. Vacuum it after 2 %
-- of its rows changed (the default waits for 20 %), so that the dead entries claims
-- leave at the head of the ready index are cleaned while a large backlog waits.
ALTER TABLE tasks SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 2000, autovacuum_analyze_scale_factor = 0.05);
