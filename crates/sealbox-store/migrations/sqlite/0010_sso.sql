-- Single sign-on with OpenID Connect (issue 14).
-- Keep in step with ../postgres/0010_sso.sql (same tables, columns and indexes).
--
-- `sso_settings`: a workspace's sign-in rules, absent until someone changes them (the defaults:
-- passwords allowed, unknown e-mails refused, no group mapping). `password_sign_in` 1 or 0;
-- `create_members` the role given to a verified e-mail that is not a member yet (NULL: refused);
-- `group_roles` a JSON object from a value of the provider's groups claim to a role.
CREATE TABLE sso_settings (
    workspace_id TEXT PRIMARY KEY NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    password_sign_in INTEGER NOT NULL,
    create_members TEXT,
    group_roles TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- `sso_logins`: single-use sign-ins in progress (bookkeeping, not backed up). `id` is a keyed hash
-- of the `state` sent to the provider (stage `started`), or of the one-time code handed to
-- `sealbox login --sso` on its loopback address (stage `signed_in`); taking a row deletes it, so
-- a state or code works once. Neither the state, the nonce, the PKCE verifier nor the code is
-- stored: the nonce and verifier are derived from the state with a server key. `cli_redirect`
-- and `cli_challenge` (SHA-256 of the CLI's verifier) only for the terminal's sign-in;
-- `member_id` and `detail` (issuer, subject) once the provider signed the person in.
CREATE TABLE sso_logins (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    stage TEXT NOT NULL CHECK (stage IN ('started', 'signed_in')),
    cli_redirect TEXT,
    cli_challenge TEXT,
    member_id TEXT,
    detail TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX sso_logins_by_expiry ON sso_logins (expires_at);
