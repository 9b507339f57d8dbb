-- Workflows (docs/workflows.md): the status waiting; a task's parent, what it waits for and
-- until when, the checkpoint its last attempt saved, what woke it, its latest progress, and
-- the schedule that fired it; how often a parent's retry policy ran it again.
ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check
  CHECK (status IN ('pending', 'assigned', 'running', 'completed', 'failed', 'dead', 'cancelled', 'waiting'));
ALTER TABLE tasks ADD COLUMN parent_id uuid;
ALTER TABLE tasks ADD COLUMN wait_for jsonb;
ALTER TABLE tasks ADD COLUMN wake_at timestamptz;
ALTER TABLE tasks ADD COLUMN checkpoint jsonb;
ALTER TABLE tasks ADD COLUMN resume jsonb;
ALTER TABLE tasks ADD COLUMN progress jsonb;
ALTER TABLE tasks ADD COLUMN schedule_id uuid;
ALTER TABLE tasks ADD COLUMN child_redrives integer NOT NULL DEFAULT 0;
CREATE INDEX idx_tasks_parent ON tasks (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX idx_tasks_wake ON tasks (wake_at) WHERE status = 'waiting';
CREATE INDEX idx_tasks_schedule ON tasks (schedule_id, created_at) WHERE schedule_id IS NOT NULL;

-- Signals delivered to a task; one sent before the task waits for it is kept until it does.
CREATE TABLE task_signals (
  id bigserial PRIMARY KEY,
  task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  name text NOT NULL,
  payload jsonb,
  sent_by text,
  created_at timestamptz NOT NULL,
  consumed_at timestamptz
);
CREATE INDEX idx_task_signals_open ON task_signals (task_id, name, id) WHERE consumed_at IS NULL;

-- Progress records of a task, the last [workflows] progress_keep of them.
CREATE TABLE task_progress (
  task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  seq bigint NOT NULL,
  percent double precision,
  message text,
  chunk text,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (task_id, seq)
);

-- Schedules: a cron expression or an interval, a task template, the overlap and catch-up
-- policies, and the next tick (claimed by the node that fires it, in the same transaction).
CREATE TABLE schedules (
  id uuid PRIMARY KEY,
  name text NOT NULL UNIQUE,
  cron text,
  interval_ms bigint,
  timezone text NOT NULL DEFAULT 'UTC',
  template jsonb NOT NULL,
  overlap text NOT NULL,
  catchup text NOT NULL,
  catchup_max integer NOT NULL,
  paused smallint NOT NULL DEFAULT 0,
  next_run_at timestamptz,
  last_tick_at timestamptz,
  last_task_id uuid,
  fired bigint NOT NULL DEFAULT 0,
  skipped bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX idx_schedules_due ON schedules (next_run_at) WHERE paused = 0;
