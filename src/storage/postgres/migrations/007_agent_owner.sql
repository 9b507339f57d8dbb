-- The principal that registered a remote agent ("key:<id>", "user:<id>", or "anonymous"
-- without security): an agent that reconnects under the same name and principal without
-- its resume token takes over its old record instead of adding another.
ALTER TABLE agents ADD COLUMN owner text;
