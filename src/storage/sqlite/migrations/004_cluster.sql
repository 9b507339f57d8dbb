-- Cluster membership (see the PostgreSQL migration). The embedded engine serves
-- one node and refuses cluster mode; the table keeps both schemas alike.
CREATE TABLE cluster_members (
  node_id text PRIMARY KEY,
  address text NOT NULL,
  grpc_port integer NOT NULL,
  http_port integer NOT NULL,
  epoch integer NOT NULL,
  status text NOT NULL CHECK (status IN ('joining', 'active', 'suspect', 'dead', 'left')),
  heartbeat_at text NOT NULL,
  started_at text NOT NULL,
  updated_at text NOT NULL
);
