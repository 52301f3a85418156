-- Sealbox schema, SQLite flavour. Keep in step with ../postgres/0001_init.sql (same tables,
-- columns and indexes). Times are milliseconds since the Unix epoch.

CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) STRICT;

-- audit_seq / audit_hash are the head of the workspace's audit chain (0 / NULL before the first event).
CREATE TABLE workspaces (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    audit_seq INTEGER NOT NULL DEFAULT 0,
    audit_hash BLOB
) STRICT;

CREATE TABLE members (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (workspace_id, email)
) STRICT;

CREATE TABLE tokens (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    kind TEXT NOT NULL,
    member_id TEXT REFERENCES members (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    last_used_at INTEGER
) STRICT;
CREATE INDEX tokens_member ON tokens (member_id, kind, created_at);

CREATE TABLE secrets (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    secret_type TEXT NOT NULL,
    visibility TEXT NOT NULL,
    description TEXT NOT NULL,
    metadata TEXT NOT NULL,
    tags TEXT NOT NULL,
    details TEXT NOT NULL,
    current_version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    last_used_at INTEGER,
    last_used_by TEXT,
    deleted_at INTEGER,
    deleted_by TEXT,
    UNIQUE (workspace_id, name)
) STRICT;
CREATE INDEX secrets_trashed ON secrets (deleted_at) WHERE deleted_at IS NOT NULL;

-- ciphertext and wrapped_dek are opaque sealed bytes; the store never sees a plaintext value.
CREATE TABLE secret_versions (
    secret_id TEXT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    ciphertext BLOB NOT NULL,
    wrapped_dek BLOB NOT NULL,
    key_version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (secret_id, version)
) STRICT;

-- Append-only, hash-chained per workspace: hash = chain_hash(prev_hash, seq, record).
CREATE TABLE audit_events (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    request_id TEXT NOT NULL,
    client_addr TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (workspace_id, seq)
) STRICT;
CREATE INDEX audit_events_at ON audit_events (workspace_id, at);
CREATE INDEX audit_events_actor ON audit_events (workspace_id, actor, seq);
CREATE INDEX audit_events_target ON audit_events (workspace_id, target, seq);
-- Serves the action filter and count_audit (action, target, outcome, since).
CREATE INDEX audit_events_action ON audit_events (workspace_id, action, target, outcome, at);
