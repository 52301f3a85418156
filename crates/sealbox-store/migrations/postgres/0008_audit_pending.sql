-- Audit events not yet sealed into their workspace's chain, and a tag index (issue 13). Keep in step with
-- ../sqlite/0008_audit_pending.sql (same tables, columns and indexes).
-- On PostgreSQL an audited change inserts its event here, in its own transaction, without
-- locking the workspace's chain head, so changes of one workspace commit in parallel, on every
-- replica. A chainer (one per server process) then seals pending events into audit_events in
-- id order (seq, prev_hash, hash, under the workspace row's lock, briefly) and deletes them here.
-- mac = HMAC(chain key, the record): a row inserted or edited here without the key is never
-- sealed, and `sealbox audit verify` reports it. SQLite seals at once in its writer's batch and
-- leaves this table empty.
CREATE TABLE audit_pending (
    id BIGSERIAL PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    request_id TEXT NOT NULL,
    client_addr TEXT NOT NULL,
    detail TEXT NOT NULL,
    mac BYTEA NOT NULL
);

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
);
CREATE INDEX secret_tags_lookup ON secret_tags (workspace_id, key, value, secret_id);
INSERT INTO secret_tags (secret_id, workspace_id, key, value)
    SELECT s.id, s.workspace_id, t.key, t.value
    FROM secrets s, json_each_text(CASE WHEN json_typeof(s.tags::json) = 'object' THEN s.tags::json ELSE '{}' END) t;
