-- Token lifetimes per workspace, and identities' trusts in platforms' JWTs (federation).
-- Keep in step with ../postgres/0009_token_lifetimes_federation.sql (same tables and columns).

-- A workspace's token lifetimes, for personal access tokens and identity tokens (exchanged ones
-- included). NULL: no default (a token never expires unless asked to) / no maximum. A workspace
-- without a row has neither. Only token lifetimes live here.
CREATE TABLE workspace_token_settings (
    workspace_id TEXT PRIMARY KEY NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    default_token_ttl_seconds INTEGER,
    max_token_ttl_seconds INTEGER,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
) STRICT;

-- An identity trusts JWTs of `issuer` for `audience` whose claims match `claims` (a JSON object
-- of claim name to an exact value or a `*` glob); an exchange gives a token living `ttl_seconds`
-- (NULL: one hour), never longer than the workspace's maximum. `static_keys` holds the issuer's
-- public keys (a JWKS or PEM, as given) when they are not fetched from its discovery document.
CREATE TABLE identity_federations (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    issuer TEXT NOT NULL,
    audience TEXT NOT NULL,
    claims TEXT NOT NULL,
    ttl_seconds INTEGER,
    static_keys TEXT,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
) STRICT;
CREATE INDEX identity_federations_identity ON identity_federations (identity_id, created_at);

-- Exchanged tokens (kind `federated`, one per exchange) are deleted a day after they expire.
CREATE INDEX tokens_expiry ON tokens (kind, expires_at) WHERE expires_at IS NOT NULL;
