-- Machine identities, their own environment variables, tag policies, and identity tokens.
-- Keep in step with ../postgres/0003_identities.sql (same tables, columns and indexes).
-- The JSON columns (tags, identity_names, identity_tags, secret_tags, allow) are opaque text to
-- the store; core reads and writes them.

CREATE TABLE identities (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- A JSON object of tag names to values.
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (workspace_id, name)
) STRICT;

-- An identity's own, non-secret environment variables.
CREATE TABLE identity_env (
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (identity_id, key)
) STRICT;

-- Which identities (by name, or by identity tags) may do what (`allow`: a JSON array of
-- `read` / `use`) with which secrets (by secret tags).
CREATE TABLE policies (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    identity_names TEXT NOT NULL,
    identity_tags TEXT NOT NULL,
    secret_tags TEXT NOT NULL,
    allow TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (workspace_id, name)
) STRICT;

-- A token acts as a member (member_id) or as an identity (identity_id).
ALTER TABLE tokens ADD COLUMN identity_id TEXT REFERENCES identities (id) ON DELETE CASCADE;
CREATE INDEX tokens_identity ON tokens (identity_id, created_at) WHERE identity_id IS NOT NULL;
