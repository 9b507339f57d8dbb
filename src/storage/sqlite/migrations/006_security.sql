-- Authentication: users, refresh tokens, API keys and the audit log (see the PostgreSQL migration).
CREATE TABLE users (
  id text PRIMARY KEY,
  username text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  roles text NOT NULL,
  created_at text NOT NULL,
  updated_at text NOT NULL
);
CREATE TABLE refresh_tokens (
  id text PRIMARY KEY,
  user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  family_id text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  expires_at text NOT NULL,
  created_at text NOT NULL,
  used_at text,
  revoked_at text
);
CREATE INDEX idx_refresh_tokens_family ON refresh_tokens (family_id);
CREATE TABLE api_keys (
  id text PRIMARY KEY,
  name text NOT NULL,
  prefix text NOT NULL,
  key_hash text NOT NULL UNIQUE,
  role text NOT NULL,
  created_by text NOT NULL,
  created_at text NOT NULL,
  last_used_at text,
  revoked_at text
);
CREATE TABLE audit_log (
  id integer PRIMARY KEY AUTOINCREMENT,
  at text NOT NULL,
  event text NOT NULL,
  principal text,
  ip text,
  detail text
);
CREATE INDEX idx_audit_log_at ON audit_log (at);
