-- Flow control (docs/flow-control.md). A task's concurrency keys (a JSON array, NULL: none),
-- its tenant ('' : the default one), its cost estimate and reported usage (JSON objects of
-- unit: amount), and whether it carries a key or a cost (such tasks are always claimed).
ALTER TABLE tasks ADD COLUMN concurrency_keys text;
ALTER TABLE tasks ADD COLUMN fairness_key text NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN cost text;
ALTER TABLE tasks ADD COLUMN usage text;
-- Aging ([flow] aging_ms): when the task's priority_rank was last raised for waiting.
ALTER TABLE tasks ADD COLUMN aged_at text;
ALTER TABLE tasks ADD COLUMN flowed integer NOT NULL DEFAULT 0;
CREATE INDEX idx_tasks_tenant_ready ON tasks (fairness_key, priority_rank DESC) WHERE status = 'pending' AND deps_pending = 0;
CREATE INDEX idx_tasks_flowed ON tasks (status) WHERE flowed = 1;
CREATE INDEX idx_tasks_tenanted ON tasks (status) WHERE fairness_key <> '';

-- Rules set at run time for one key (PUT /api/flow/:kind/:key); they win over configured patterns.
CREATE TABLE flow_rules (
  key text NOT NULL,
  kind text NOT NULL,
  rule text NOT NULL,
  updated_at text NOT NULL,
  PRIMARY KEY (key, kind)
);
-- Token buckets (rate limits and budgets): the level when last written; it refills from there.
CREATE TABLE flow_buckets (
  key text NOT NULL,
  bucket text NOT NULL,
  level real NOT NULL,
  updated_ms integer NOT NULL,
  PRIMARY KEY (key, bucket)
);
-- Fair share: each tenant's virtual time; the row '*' is the clock (the start of the last dispatch).
CREATE TABLE flow_tenants (
  tenant text PRIMARY KEY,
  vtime real NOT NULL
);
