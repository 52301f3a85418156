-- Audit events not yet sealed into their workspace's chain (issue 13). Keep in step with
-- ../postgres/0008_audit_pending.sql (same tables, columns and indexes).
-- On PostgreSQL an audited change inserts its event here, in its own transaction, without
-- locking the workspace's chain head; a chainer seals pending events into audit_events shortly
-- after. SQLite's one writer seals every event at once in its batch and leaves this table empty
-- (a restore seals the pending events a PostgreSQL backup holds).
CREATE TABLE audit_pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    request_id TEXT NOT NULL,
    client_addr TEXT NOT NULL,
    detail TEXT NOT NULL,
    mac BLOB NOT NULL
) STRICT;
