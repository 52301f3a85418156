-- Audit events not yet sealed into their workspace's chain, and a tag index (issue 13). Keep in step with
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

-- Each secret's tags, one row per tag, kept by the store in step with `secrets.tags` (issue 13):
-- an identity's environment selects the secrets its policies cover by tag through this index,
-- so its cost follows what it returns, not the size of the workspace. Derived data: backups
-- leave it out and a restore rebuilds it.
CREATE TABLE secret_tags (
    secret_id TEXT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (secret_id, key)
) STRICT;
CREATE INDEX secret_tags_lookup ON secret_tags (workspace_id, key, value, secret_id);
INSERT INTO secret_tags (secret_id, workspace_id, key, value)
    SELECT s.id, s.workspace_id, t.key, t.value FROM secrets s, json_each(s.tags) t
    WHERE json_valid(s.tags) AND json_type(s.tags) = 'object' AND t.type = 'text';
