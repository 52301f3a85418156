-- Saved action definitions (HTTP calls, e-mails, SQS messages run by the server with secrets).
-- Keep in step with ../postgres/0004_actions.sql (same table, columns and indexes).
-- `spec` is the definition as JSON text, opaque to the store; it holds references such as
-- {secrets.NAME}, never a value.

CREATE TABLE actions (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- `http`, `email` or `sqs`.
    kind TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    UNIQUE (workspace_id, name)
) STRICT;
