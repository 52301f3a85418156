-- Saved action definitions (HTTP calls, e-mails, SQS messages run by the server with secrets).
-- Keep in step with ../sqlite/0004_actions.sql (same table, columns and indexes).
-- `spec` is the definition as JSON text, opaque to the store; it holds references such as
-- {secrets.NAME}, never a value.
-- Names sort with COLLATE "C" (byte order), as SQLite sorts them.

CREATE TABLE actions (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT COLLATE "C" NOT NULL,
    -- `http`, `email` or `sqs`.
    kind TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    UNIQUE (workspace_id, name)
);
