-- Audit events not yet sealed into their workspace's chain (issue 13). Keep in step with
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
