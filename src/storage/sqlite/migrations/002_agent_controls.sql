-- Operator controls on agents: pause (no new tasks) and how many tasks an agent runs at once.
ALTER TABLE agents ADD COLUMN paused integer NOT NULL DEFAULT 0 CHECK (paused IN (0, 1));
ALTER TABLE agents ADD COLUMN max_concurrency integer NOT NULL DEFAULT 1 CHECK (max_concurrency >= 1);
CREATE INDEX idx_tasks_lease_owner ON tasks (lease_owner) WHERE status IN ('assigned', 'running');
