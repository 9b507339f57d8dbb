-- Workflows (docs/workflows.md): the status waiting; a task's parent, what it waits for and
-- until when, the checkpoint its last attempt saved, what woke it, its latest progress, and
-- the schedule that fired it; how often a parent's retry policy ran it again.
-- SQLite cannot alter a CHECK constraint: the migration runner allows this one edit of the
-- schema text (widening the list keeps every stored row valid; writable_schema RESET reloads it).
PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql, '''dead'', ''cancelled''))', '''dead'', ''cancelled'', ''waiting''))')
  WHERE type = 'table' AND name = 'tasks';
PRAGMA writable_schema = RESET;
ALTER TABLE tasks ADD COLUMN parent_id text;
ALTER TABLE tasks ADD COLUMN wait_for text;
ALTER TABLE tasks ADD COLUMN wake_at text;
ALTER TABLE tasks ADD COLUMN checkpoint text;
ALTER TABLE tasks ADD COLUMN resume text;
ALTER TABLE tasks ADD COLUMN progress text;
ALTER TABLE tasks ADD COLUMN schedule_id text;
ALTER TABLE tasks ADD COLUMN child_redrives integer NOT NULL DEFAULT 0;
CREATE INDEX idx_tasks_parent ON tasks (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX idx_tasks_wake ON tasks (wake_at) WHERE status = 'waiting';
CREATE INDEX idx_tasks_schedule ON tasks (schedule_id, created_at) WHERE schedule_id IS NOT NULL;

CREATE TABLE task_signals (
  id integer PRIMARY KEY AUTOINCREMENT,
  task_id text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  name text NOT NULL,
  payload text,
  sent_by text,
  created_at text NOT NULL,
  consumed_at text
);
CREATE INDEX idx_task_signals_open ON task_signals (task_id, name, id) WHERE consumed_at IS NULL;

CREATE TABLE task_progress (
  task_id text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  percent real,
  message text,
  chunk text,
  created_at text NOT NULL,
  PRIMARY KEY (task_id, seq)
);

CREATE TABLE schedules (
  id text PRIMARY KEY,
  name text NOT NULL UNIQUE,
  cron text,
  interval_ms integer,
  timezone text NOT NULL DEFAULT 'UTC',
  template text NOT NULL,
  overlap text NOT NULL,
  catchup text NOT NULL,
  catchup_max integer NOT NULL,
  paused integer NOT NULL DEFAULT 0,
  next_run_at text,
  last_tick_at text,
  last_task_id text,
  fired integer NOT NULL DEFAULT 0,
  skipped integer NOT NULL DEFAULT 0,
  created_at text NOT NULL,
  updated_at text NOT NULL
);
CREATE INDEX idx_schedules_due ON schedules (next_run_at) WHERE paused = 0;
