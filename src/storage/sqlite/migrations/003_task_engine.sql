-- The durable task engine: claims leased by node with a fencing epoch, dependencies,
-- retries (run_at), and a ready index that holds only claimable tasks.
ALTER TABLE tasks ADD COLUMN claimed_at text;
ALTER TABLE tasks ADD COLUMN deps_pending integer NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN has_dependants integer NOT NULL DEFAULT 0;

CREATE TABLE task_dependencies (
  task_id text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  depends_on text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  PRIMARY KEY (depends_on, task_id)
);
CREATE INDEX idx_task_dependencies_task ON task_dependencies (task_id);

DROP INDEX idx_tasks_ready;
CREATE INDEX idx_tasks_ready ON tasks (priority_rank DESC) WHERE status = 'pending' AND deps_pending = 0;
CREATE INDEX idx_tasks_dead ON tasks (updated_at) WHERE status IN ('dead', 'failed');
