-- Cluster membership: one row per node id. The epoch grows each time the node
-- joins, so a node that was declared dead (and whose leases were released)
-- cannot heartbeat its old incarnation back to life.
CREATE TABLE cluster_members (
  node_id text PRIMARY KEY,
  address text NOT NULL,
  grpc_port integer NOT NULL,
  http_port integer NOT NULL,
  epoch bigint NOT NULL,
  status text NOT NULL CHECK (status IN ('joining', 'active', 'suspect', 'dead', 'left')),
  heartbeat_at timestamptz NOT NULL,
  started_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
