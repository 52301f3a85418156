//! Persistence for Sealbox: the [`Store`] trait, its row models, and two implementations
//! ([`SqliteStore`], the embedded default, and [`PostgresStore`]).
//!
//! **Invariant:** the store never sees a plaintext secret value. Version rows carry the sealed
//! ciphertext, the wrapped data key and the root-key version as opaque bytes; this crate does not
//! depend on `sealbox-crypto`.
//!
//! Every mutating method takes the [`AuditRecord`] that describes it and appends it to the
//! workspace's hash chain in the same transaction: either both are durable or neither is
//! (audit is fail-closed).
//!
//! Times are milliseconds since the Unix epoch, chosen by the caller (the store never reads a clock).
//!
//! # Layout
//!
//! Both implementations run the same queries, written once with `$n` parameters, one module per
//! table group (`workspaces`, `members`, `tokens`, `identities`, `federations`, `policies`, `actions`,
//! `secrets`, `audit`, `login_attempts`, `sso`, `meta`), each with its row models, over a small
//! connection abstraction (`db.rs`). Write queries take owned arguments (SQLite runs them on its
//! writer thread) inside a transaction the backend opens (`backend.rs`); the implementations
//! differ only in how that transaction is run.
//! [`SqliteStore`] (rusqlite) group-commits: one writer thread batches queued writes into one
//! transaction, each in its own savepoint, and answers them after the commit; reads run on the
//! caller's thread. [`PostgresStore`] (sqlx) runs each write in its own transaction on a pool.
//! Schema migrations live in `migrations/{sqlite,postgres}/` under the same file names, are
//! embedded in the binary and applied at open/connect, recorded in `schema_migrations`.
//!
//! # Testing against PostgreSQL
//!
//! The conformance suite (`tests/it`) runs every scenario on SQLite, and on PostgreSQL when
//! `SEALBOX_TEST_DATABASE_URL` is set (under `CI=true` it must be set and reachable). Each test
//! gets its own schema from [`create_isolated_schema`], which returns the given URL with
//! `options[search_path]=sbx_<16 hex digits>` appended (sqlx's syntax for a server option, so
//! [`PostgresStore::connect`] and `sqlx` itself accept it); every connection made from that URL
//! sees only that schema.

mod actions;
mod audit;
mod backend;
mod backup;
mod db;
mod federations;
mod identities;
mod keyring;
mod login_attempts;
mod members;
mod meta;
mod migrate;
mod policies;
mod postgres;
mod secrets;
mod server_lock;
mod sqlite;
mod sso;
mod startup;
mod tokens;
mod workspaces;

use async_trait::async_trait;

pub use actions::{ActionRow, ActionUpdate};
pub use audit::{
    AuditChainKey, AuditEventRow, AuditFilter, AuditHeadRow, AuditRecord, GENESIS_HASH, PendingAuditRow, chain_hash,
    pending_mac,
};
pub use backup::{BACKUP_FORMAT_VERSION, Backup, BackupError, BackupHeader, ChainCheck, Value as BackupValue};
pub use federations::{FederationRow, TokenSettingsRow};
pub use identities::IdentityRow;
pub use keyring::{KEYRING_ACTIVE, KEYRING_RETIRED, KeyVersionCounts, KeyringRow, Rekey, Rewrapped, WrappedDekRow};
pub use members::MemberRow;
pub use migrate::schema_version;
pub use policies::PolicyRow;
pub use postgres::{PostgresStore, create_isolated_schema};
pub use secrets::{
    LAST_USED_PRECISION_MS, SealNewVersion, SealedValue, SecretFilter, SecretRow, SecretUpdate, SecretVersionRow,
    VersionMeta,
};
pub use server_lock::{LockMode, ServerLock};
pub use sqlite::SqliteStore;
pub use sso::{SsoLoginRow, SsoSettingsRow};
pub use startup::{BrokenChain, StartupState};
pub use tokens::TokenRow;
pub use workspaces::WorkspaceRow;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was hit. The string names which: `workspace_name`, `member_email`,
    /// `secret_name`, `token_hash`, `identity_name`, `policy_name`, `action_name`.
    #[error("{0} already exists")]
    Duplicate(&'static str),
    /// The row to change does not exist (or belongs to another workspace).
    #[error("not found")]
    NotFound,
    /// A compare-and-set on a secret's current version failed; `current` is what is stored now.
    #[error("version conflict: current version is {current}")]
    VersionConflict { current: i64 },
    /// The change would leave the workspace without an owner.
    #[error("the workspace must keep at least one owner")]
    LastOwner,
    /// Appending the audit event failed; nothing was written.
    #[error("audit event could not be recorded: {0}")]
    Audit(String),
    /// The database cannot be used as it is (migrated by a newer Sealbox, or not a whole
    /// database); the text says why and what to do.
    #[error("{0}")]
    Refused(String),
    /// The database could not be reached, or did not answer within the store's timeout (a
    /// connection could not be had, it broke, or a statement was cancelled for taking too long).
    /// Nothing was written; retrying later may succeed. The text is for the operator's log.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Anything else the database said. The text is for the operator's log, never for a client.
    #[error("database error: {0}")]
    Database(String),
}

pub use sealbox_metrics::{PoolStatus, WorkspaceCounts};

/// How a store talks to its database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The longest a query waits for a database connection (connecting included), and the
    /// longest one PostgreSQL statement may run; past it the call fails with
    /// [`StoreError::Unavailable`] instead of waiting on.
    pub timeout: std::time::Duration,
    /// Where query times, pool use and audit writes are recorded (the server's metrics).
    pub metrics: std::sync::Arc<sealbox_metrics::Metrics>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            timeout: std::time::Duration::from_secs(5),
            metrics: Default::default(),
        }
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A short name for logs: `sqlite` or `postgres`.
    fn kind(&self) -> &'static str;

    // ---- server metadata (root-key check values and the like) ----
    async fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Stores `value` under `key` unless the key exists; returns whether it was stored.
    async fn put_meta_if_absent(&self, key: &str, value: &[u8]) -> Result<bool>;

    // ---- keyring (key-encryption keys wrapped by the root key) ----
    /// Every keyring version, oldest first.
    async fn keyring(&self) -> Result<Vec<KeyringRow>>;
    /// Adds `row` (state [`KEYRING_ACTIVE`]) and retires the previously active version, in one
    /// transaction; `false`, changing nothing, when the version exists already.
    async fn add_active_kek(&self, row: KeyringRow) -> Result<bool>;
    /// Up to `limit` stored data keys whose key version is below `key_version` (the active one,
    /// the newest: a range the `secret_versions_key_version` index answers at once when none is
    /// left, as every process asks every few seconds), in a stable order.
    async fn wrapped_deks_below(&self, key_version: i64, limit: i64) -> Result<Vec<WrappedDekRow>>;
    /// How many data keys are stored, and how many have `key_version`.
    async fn key_version_counts(&self, key_version: i64) -> Result<KeyVersionCounts>;
    /// Stores a batch of rewrapped data keys in one transaction; a row whose bytes are no longer
    /// the ones it was rewrapped from is skipped. Returns how many were stored.
    async fn store_rewrapped(&self, batch: Vec<Rewrapped>) -> Result<u64>;
    /// Replaces the keyring's wrapping and the root key's check value in one transaction (see
    /// [`Rekey`]); `Refused`, changing nothing, when a keyring row changed meanwhile.
    async fn rekey(&self, rekey: Rekey) -> Result<()>;
    /// How many data keys are still wrapped by the root key itself (format byte 0x01).
    async fn root_wrapped_data_keys(&self) -> Result<u64>;
    /// Seals audit events with `key` from now on: at unseal (a store opened sealed has no key),
    /// and at start when the database was rekeyed (the chain stays keyed by the original root
    /// key's subkey).
    fn use_audit_chain_key(&self, key: AuditChainKey);
    /// Drops the chain key (the server is sealed): no event can be appended until the next
    /// [`Store::use_audit_chain_key`].
    fn forget_audit_chain_key(&self);
    /// Whether this database may be bootstrapped and whether its audit chains are whole; see
    /// [`StartupState`].
    async fn startup_state(&self) -> Result<StartupState>;

    // ---- backup and restore ----
    /// Every table's rows, read in one consistent snapshot (SQLite: one read transaction;
    /// PostgreSQL: one `REPEATABLE READ, READ ONLY` transaction) while writes go on.
    async fn backup(&self, created_at: i64) -> Result<Backup>;
    /// Writes every row of `backup` in one transaction. `Refused` when this database holds data
    /// (naming it) or does not know the backup's schema.
    async fn restore(&self, backup: Backup) -> Result<()>;
    /// The migrations this build has that the database has not recorded, in order: empty when
    /// the schema is current. A round trip to the database, so it also says whether it answers.
    async fn pending_migrations(&self) -> Result<Vec<&'static str>>;
    /// The database connections now (for the metrics).
    fn pool_status(&self) -> PoolStatus;
    /// Each workspace's live secrets and identities, by workspace name; only `workspace_id`'s
    /// when given.
    async fn workspace_counts(&self, workspace_id: Option<&str>) -> Result<Vec<WorkspaceCounts>>;

    // ---- workspaces ----
    /// Creates a workspace, its first owner, and optionally a token for that owner, atomically.
    /// `Duplicate("workspace_name")` when the name is taken.
    async fn create_workspace(
        &self,
        workspace: WorkspaceRow,
        owner: MemberRow,
        token: Option<TokenRow>,
        audit: AuditRecord,
    ) -> Result<()>;
    async fn workspace_by_name(&self, name: &str) -> Result<Option<WorkspaceRow>>;
    async fn workspace_by_id(&self, id: &str) -> Result<Option<WorkspaceRow>>;

    // ---- members ----
    /// `Duplicate("member_email")` when the e-mail is already a member of the workspace.
    async fn insert_member(&self, member: MemberRow, audit: AuditRecord) -> Result<()>;
    async fn member_by_email(&self, workspace_id: &str, email: &str) -> Result<Option<MemberRow>>;
    async fn member_by_id(&self, member_id: &str) -> Result<Option<MemberRow>>;
    async fn list_members(&self, workspace_id: &str) -> Result<Vec<MemberRow>>;
    /// `LastOwner` when this would demote the workspace's only owner.
    async fn set_member_role(&self, workspace_id: &str, member_id: &str, role: &str, audit: AuditRecord) -> Result<()>;
    /// Removes the member and every token of theirs. `LastOwner` when they are the only owner.
    async fn delete_member(&self, workspace_id: &str, member_id: &str, audit: AuditRecord) -> Result<()>;

    // ---- identities ----
    /// `Duplicate("identity_name")` when the name is taken in the workspace.
    async fn insert_identity(&self, identity: IdentityRow, audit: AuditRecord) -> Result<()>;
    async fn identity_by_name(&self, workspace_id: &str, name: &str) -> Result<Option<IdentityRow>>;
    /// The workspace's identities by name.
    async fn list_identities(&self, workspace_id: &str) -> Result<Vec<IdentityRow>>;
    /// Replaces the identity's tags (a JSON object). `NotFound` unless it is in the workspace.
    async fn set_identity_tags(
        &self,
        workspace_id: &str,
        identity_id: &str,
        tags: &str,
        audit: AuditRecord,
    ) -> Result<()>;
    /// Removes the identity with its environment variables and tokens. `NotFound` unless it is in
    /// the workspace.
    async fn delete_identity(&self, workspace_id: &str, identity_id: &str, audit: AuditRecord) -> Result<()>;
    /// Sets (adds or replaces) one of the identity's environment variables. `NotFound` unless the
    /// identity is in the workspace.
    async fn set_identity_env(
        &self,
        workspace_id: &str,
        identity_id: &str,
        key: &str,
        value: &str,
        audit: AuditRecord,
    ) -> Result<()>;
    /// Removes one of the identity's environment variables. `NotFound` unless the identity is in
    /// the workspace and has that variable.
    async fn unset_identity_env(
        &self,
        workspace_id: &str,
        identity_id: &str,
        key: &str,
        audit: AuditRecord,
    ) -> Result<()>;
    /// The identity's environment variables as `(key, value)`, by key.
    async fn identity_env(&self, identity_id: &str) -> Result<Vec<(String, String)>>;

    // ---- policies ----
    /// `Duplicate("policy_name")` when the name is taken in the workspace.
    async fn insert_policy(&self, policy: PolicyRow, audit: AuditRecord) -> Result<()>;
    /// The workspace's policies by name.
    async fn list_policies(&self, workspace_id: &str) -> Result<Vec<PolicyRow>>;
    /// `NotFound` unless the policy is in the workspace.
    async fn delete_policy(&self, workspace_id: &str, policy_id: &str, audit: AuditRecord) -> Result<()>;

    // ---- actions ----
    /// `Duplicate("action_name")` when the name is taken in the workspace.
    async fn insert_action(&self, action: ActionRow, audit: AuditRecord) -> Result<()>;
    /// The workspace's actions by name.
    async fn list_actions(&self, workspace_id: &str) -> Result<Vec<ActionRow>>;
    async fn action_by_name(&self, workspace_id: &str, name: &str) -> Result<Option<ActionRow>>;
    /// Replaces the action's kind and spec and records who changed it when. `NotFound` unless the
    /// action is in the workspace.
    async fn update_action(&self, update: ActionUpdate, audit: AuditRecord) -> Result<()>;
    /// `NotFound` unless the action is in the workspace.
    async fn delete_action(&self, workspace_id: &str, action_id: &str, audit: AuditRecord) -> Result<()>;

    // ---- token lifetimes ----
    /// The workspace's token lifetimes; `None` when never set (no default, no maximum).
    async fn token_settings(&self, workspace_id: &str) -> Result<Option<TokenSettingsRow>>;
    /// Stores the workspace's token lifetimes (replacing what was there).
    async fn set_token_settings(&self, row: TokenSettingsRow, audit: AuditRecord) -> Result<()>;

    // ---- federation (JWT issuers identities trust) ----
    /// `NotFound` unless the identity is in the row's workspace.
    async fn insert_federation(&self, row: FederationRow, audit: AuditRecord) -> Result<()>;
    /// The identity's trusts, oldest first.
    async fn list_federations(&self, workspace_id: &str, identity_id: &str) -> Result<Vec<FederationRow>>;
    /// `NotFound` unless the trust is the identity's, in the workspace.
    async fn delete_federation(
        &self,
        workspace_id: &str,
        identity_id: &str,
        id: &str,
        audit: AuditRecord,
    ) -> Result<()>;

    // ---- tokens ----
    /// A token acts as a member or as an identity (of its workspace, else `NotFound`), not both.
    async fn insert_token(&self, token: TokenRow, audit: AuditRecord) -> Result<()>;
    async fn token_by_hash(&self, hash: &[u8]) -> Result<Option<TokenRow>>;
    /// The token with this hash, the member it acts as and the token's workspace, read in one
    /// query; `None` when any of the three is missing (e.g. a token without a member).
    async fn token_with_member(&self, hash: &[u8]) -> Result<Option<(TokenRow, MemberRow, WorkspaceRow)>>;
    /// The token with this hash, the identity it acts as and the token's workspace, read in one
    /// query; `None` when any of the three is missing (e.g. a member's token).
    async fn token_with_identity(&self, hash: &[u8]) -> Result<Option<(TokenRow, IdentityRow, WorkspaceRow)>>;
    /// Tokens of one member of `kind`, newest first, revoked ones left out.
    async fn list_tokens(&self, workspace_id: &str, member_id: &str, kind: &str) -> Result<Vec<TokenRow>>;
    /// Marks the token revoked at `at`. `NotFound` unless it belongs to `member_id` in the workspace.
    async fn revoke_token(
        &self,
        workspace_id: &str,
        member_id: &str,
        token_id: &str,
        at: i64,
        audit: AuditRecord,
    ) -> Result<()>;
    /// Tokens of one identity, newest first, revoked ones left out.
    async fn list_identity_tokens(&self, workspace_id: &str, identity_id: &str) -> Result<Vec<TokenRow>>;
    /// Marks the token revoked at `at`. `NotFound` unless it belongs to `identity_id` in the
    /// workspace and is not revoked yet.
    async fn revoke_identity_token(
        &self,
        workspace_id: &str,
        identity_id: &str,
        token_id: &str,
        at: i64,
        audit: AuditRecord,
    ) -> Result<()>;
    /// Records use; cheap and not audited.
    async fn touch_token(&self, token_id: &str, at: i64) -> Result<()>;
    /// Deletes the tokens of `kind` that expired before `before` (bookkeeping of short-lived
    /// exchanged tokens, not audited); returns how many.
    async fn delete_expired_tokens(&self, kind: &str, before: i64) -> Result<u64>;

    // ---- secrets ----
    /// Inserts the secret with its first version. `Duplicate("secret_name")` when the name is taken
    /// in the workspace, including by a secret in the trash.
    async fn insert_secret(&self, secret: SecretRow, first_version: SecretVersionRow, audit: AuditRecord)
    -> Result<()>;
    /// The secret with this name, live or in the trash.
    async fn secret_by_name(&self, workspace_id: &str, name: &str) -> Result<Option<SecretRow>>;
    /// The secret with this name, live or in the trash (like `secret_by_name`), and, read in the
    /// same query, its version `version`, or its current version when `None`; the version is
    /// `None` when there is no such version.
    async fn secret_with_version(
        &self,
        workspace_id: &str,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<(SecretRow, Option<SecretVersionRow>)>>;
    async fn list_secrets(&self, workspace_id: &str, filter: &SecretFilter) -> Result<Vec<SecretRow>>;
    async fn secret_version(&self, secret_id: &str, version: i64) -> Result<Option<SecretVersionRow>>;
    /// Every version's metadata, newest first.
    async fn list_versions(&self, secret_id: &str) -> Result<Vec<VersionMeta>>;
    /// Applies `update` to a live secret (else `NotFound`) and returns the row as it now is.
    /// `VersionConflict` when `expected_current_version` is given and no longer current. When a
    /// new version is made and `audit.detail` is a JSON object, the store sets its `"version"`
    /// to the number it assigned.
    async fn update_secret(&self, update: SecretUpdate, audit: AuditRecord) -> Result<SecretRow>;
    /// Moves a live secret to the trash (`deleted_at = Some`) or restores a trashed one (`None`).
    /// `NotFound` when it is not in the state the change starts from.
    async fn set_secret_trashed(
        &self,
        workspace_id: &str,
        secret_id: &str,
        deleted: Option<(i64, String)>,
        audit: AuditRecord,
    ) -> Result<()>;
    /// Deletes a trashed secret and all its versions for good. `NotFound` unless it is in the trash.
    async fn purge_secret(&self, workspace_id: &str, secret_id: &str, audit: AuditRecord) -> Result<()>;
    /// Every live (not trashed) secret of the workspace with its current version, by name, read
    /// in one query.
    async fn live_secrets_with_current_version(&self, workspace_id: &str)
    -> Result<Vec<(SecretRow, SecretVersionRow)>>;
    /// The live secrets of the workspace, with their current version, that carry every tag of at
    /// least one of the sets `any_of` (a set without tags: every live secret), by name, read
    /// through the tag index: what an identity's policies may cover, whatever else the workspace
    /// holds.
    async fn live_secrets_tagged(
        &self,
        workspace_id: &str,
        any_of: &[Vec<(String, String)>],
    ) -> Result<Vec<(SecretRow, SecretVersionRow)>>;
    /// Trashed secrets of every workspace deleted before `before`, for the retention sweep.
    async fn trashed_before(&self, before: i64) -> Result<Vec<SecretRow>>;

    /// A workspace's single sign-on settings; `None` until someone changed them.
    async fn sso_settings(&self, workspace_id: &str) -> Result<Option<SsoSettingsRow>>;
    /// Replaces a workspace's single sign-on settings, with its audit event.
    async fn put_sso_settings(&self, row: SsoSettingsRow, audit: AuditRecord) -> Result<()>;
    /// Stores a single sign-on in progress (bookkeeping, not audited), deleting expired ones.
    async fn insert_sso_login(&self, row: SsoLoginRow, now: i64) -> Result<()>;
    /// Takes (deletes) a sign-in in progress by id and stage: only one caller ever gets it, and
    /// not after it expired.
    async fn take_sso_login(&self, id: &[u8], stage: &str, now: i64) -> Result<Option<SsoLoginRow>>;

    // ---- sign-in attempts ----
    /// Counts one sign-in attempt under each of `keys` in the window starting at `window_start`,
    /// atomically (concurrent callers, other replicas included, each get a different count), and
    /// returns each key's count with this attempt, in the order of `keys`. Callers pass keys in
    /// one fixed order, so two attempts never wait for each other's rows the other way round.
    async fn count_login_attempt(&self, keys: &[String], window_start: i64) -> Result<Vec<i64>>;
    /// Gives back an attempt counted by `count_login_attempt` in the same window (one less under
    /// each key); a window already deleted is left alone.
    async fn refund_login_attempt(&self, keys: &[String], window_start: i64) -> Result<()>;
    /// Deletes the counts of windows that started before `before`; returns how many went.
    async fn delete_login_attempts_before(&self, before: i64) -> Result<u64>;

    // ---- audit ----
    /// Appends the event of a read of secrets' values and records, in the same transaction, that
    /// `used` (secret ids) were read or used by `by` at `at`: both or neither.
    async fn append_read(&self, audit: AuditRecord, used: &[String], at: i64, by: &str) -> Result<()>;
    /// Appends an event that stands alone (a reveal, a failed login).
    async fn append_audit(&self, audit: AuditRecord) -> Result<()>;
    /// Appends several events that stand alone in one transaction, all or none, in the order given.
    async fn append_audits(&self, records: Vec<AuditRecord>) -> Result<()>;
    /// Events matching the filter, oldest first. On PostgreSQL the workspace's pending events
    /// are sealed into its chain first, so every event committed before the call is listed.
    async fn list_audit(&self, workspace_id: &str, filter: &AuditFilter) -> Result<Vec<AuditEventRow>>;
    /// The last event's sequence number and hash as recorded in the workspace's chain head.
    async fn audit_head(&self, workspace_id: &str) -> Result<Option<(i64, Vec<u8>)>>;
    /// Every workspace's chain head (its last event's sequence number), by workspace id: what a
    /// follower of the whole log (the audit file) compares with what it has written.
    async fn audit_heads(&self) -> Result<Vec<AuditHeadRow>>;
    /// The workspace's events not sealed into its chain yet, oldest first (PostgreSQL seals
    /// events shortly after their change commits; a row left here long, or whose MAC does not
    /// match, is what `sealbox audit verify` reports).
    async fn pending_audit(&self, workspace_id: &str) -> Result<Vec<PendingAuditRow>>;
}
