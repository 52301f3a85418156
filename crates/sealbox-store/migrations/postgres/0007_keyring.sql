-- The keyring: versioned key-encryption keys (KEKs), each wrapped by the root key. New data keys
-- are wrapped by the one `active` KEK; older ones are `retired` (still read). Data keys of rows
-- written before this table existed stay wrapped by the root key itself (format byte 0x01).
CREATE TABLE keyring (
    version BIGINT PRIMARY KEY NOT NULL,
    wrapped_kek BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'retired'))
);

-- A rotation rewraps the data keys whose key version is not the active one's: found by this index.
CREATE INDEX secret_versions_key_version ON secret_versions (key_version);
