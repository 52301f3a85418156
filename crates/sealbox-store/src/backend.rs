//! What a database backend provides (somewhere to read, a way to run a write transaction), and
//! the one [`Store`] implementation built on it from the queries of the table modules.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use sealbox_metrics::{Metrics, PoolStatus, StoreOp, WorkspaceCounts};

use crate::db::{Arg, DbError, Dialect, Exec, Keyed, Row};
use crate::{
    ActionRow, ActionUpdate, AuditChainKey, AuditEventRow, AuditFilter, AuditHeadRow, AuditRecord, Backup,
    FederationRow, IdentityRow, KeyVersionCounts, KeyringRow, MemberRow, PendingAuditRow, PolicyRow, Rekey, Result,
    Rewrapped, SecretFilter, SecretRow, SecretUpdate, SecretVersionRow, SsoLoginRow, SsoSettingsRow, StartupState,
    Store, StoreError, TokenRow, TokenSettingsRow, VersionMeta, WorkspaceRow, WrappedDekRow,
};
use crate::{
    actions, audit, backup, federations, identities, keyring, login_attempts, members, meta, migrate, policies,
    secrets, sso, startup, tokens, workspaces,
};

/// A unit of work run inside a write transaction.
pub(crate) type Job<T> = Box<dyn for<'c> FnOnce(&'c mut dyn Exec) -> BoxFuture<'c, Result<T>> + Send>;

#[async_trait]
pub(crate) trait Backend: Send + Sync + 'static {
    const KIND: &'static str;
    type Reader: Exec + Clone;

    /// Where reads run (a pool).
    fn reader(&self) -> Self::Reader;

    /// The key write transactions seal audit events with.
    fn chain_key(&self) -> Option<AuditChainKey>;
    fn set_chain_key(&self, key: Option<AuditChainKey>);

    /// Where query times and audit writes are recorded.
    fn metrics(&self) -> &Metrics;

    /// The connections now.
    fn pool_status(&self) -> PoolStatus;

    /// Runs `job` in a write transaction and answers once the transaction is committed
    /// (or with the job's error, and nothing of it written).
    async fn write<T: Send + 'static>(&self, job: Job<T>) -> Result<T>;

    /// Runs `job`, which runs at most one statement, as [`Backend::write`] does; a backend where a
    /// statement outside a transaction is atomic and durable when it returns may skip the
    /// transaction's `BEGIN` and `COMMIT` (PostgreSQL: two round trips of three).
    async fn write_one<T: Send + 'static>(&self, job: Job<T>) -> Result<T> {
        self.write(job).await
    }

    /// Called after a write transaction that appended audit events committed.
    fn audit_appended(&self) {}

    /// Seals the events waiting in `audit_pending` (of one workspace, or all) into their chains
    /// now, in write transactions; takes no lock when none is waiting (on SQLite, where each
    /// event is chained in its change's transaction, only a restored PostgreSQL backup leaves any).
    async fn seal_audit(&self, workspace_id: Option<&str>) -> Result<()>
    where
        Self: Sized,
    {
        let waiting = match workspace_id {
            Some(id) => audit::has_pending(&mut read(self), id).await?,
            None => !audit::pending_workspaces(&mut read(self)).await?.is_empty(),
        };
        if !waiting {
            return Ok(());
        }
        loop {
            let workspace_id = workspace_id.map(str::to_owned);
            let more = write(self, move |c| {
                Box::pin(async move {
                    let key = c
                        .chain_key()
                        .cloned()
                        .ok_or_else(|| StoreError::Audit("no chain key in a write transaction".into()))?;
                    audit::seal_some(c, &key, workspace_id.as_deref(), audit::Wait::Yes).await
                })
            })
            .await?;
            if !more {
                return Ok(());
            }
        }
    }

    /// Runs `job` in one read-only transaction that sees one snapshot of the database while
    /// writes go on.
    async fn read_snapshot<T: Send + 'static>(&self, job: Job<T>) -> Result<T>;
}

/// Boxes `job` for [`Backend::write`]; taking the closure here lets its signature be inferred.
/// Records the transaction's time, and the audit events it appended, committed or not.
async fn write<B, T, F>(backend: &B, job: F) -> Result<T>
where
    B: Backend,
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut dyn Exec) -> BoxFuture<'c, Result<T>> + Send + 'static,
{
    run_write(backend, job, false).await
}

/// [`write`] for a job that runs at most one statement, which is atomic and durable by itself:
/// a backend may run it without a transaction around it (see [`Backend::write_one`]).
async fn write_one<B, T, F>(backend: &B, job: F) -> Result<T>
where
    B: Backend,
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut dyn Exec) -> BoxFuture<'c, Result<T>> + Send + 'static,
{
    run_write(backend, job, true).await
}

async fn run_write<B, T, F>(backend: &B, job: F, one_statement: bool) -> Result<T>
where
    B: Backend,
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut dyn Exec) -> BoxFuture<'c, Result<T>> + Send + 'static,
{
    let key = backend.chain_key();
    let events = Arc::new(AtomicU64::new(0));
    let appended = events.clone();
    let started = Instant::now();
    let job: Job<T> = Box::new(move |c: &mut dyn Exec| {
        Box::pin(async move {
            let mut keyed = Keyed {
                inner: c,
                key: key.as_ref(),
                events: &appended,
            };
            job(&mut keyed).await
        })
    });
    let result = if one_statement {
        backend.write_one(job).await
    } else {
        backend.write(job).await
    };
    let elapsed = started.elapsed();
    let metrics = backend.metrics();
    metrics.store_query(StoreOp::Write, elapsed, failure_reason(&result));
    let events = events.load(Ordering::Relaxed);
    match &result {
        Ok(_) if events > 0 => {
            metrics.audit_write(events, true, elapsed);
            backend.audit_appended();
        }
        Ok(_) => {}
        // The events appended were rolled back; an audit failure before any was appended is one.
        Err(e) => {
            if events > 0 || matches!(e, StoreError::Audit(_)) {
                metrics.audit_write(events.max(1), false, elapsed);
            }
        }
    }
    result
}

/// How `result` counts in `sealbox_store_query_failures_total`: domain answers (not found, a
/// duplicate, a conflict) are not failures.
fn failure_reason<T>(result: &Result<T>) -> Option<&'static str> {
    match result {
        Err(StoreError::Unavailable(_)) => Some("unavailable"),
        Err(StoreError::Database(_) | StoreError::Audit(_)) => Some("database"),
        _ => None,
    }
}

/// A backend's reader that records each statement's time.
pub(crate) struct Timed<'m, R> {
    inner: R,
    metrics: &'m Metrics,
}

fn read<B: Backend>(backend: &B) -> Timed<'_, B::Reader> {
    Timed {
        inner: backend.reader(),
        metrics: backend.metrics(),
    }
}

impl<R> Timed<'_, R> {
    fn record<T>(&self, started: Instant, result: &Result<T, DbError>) {
        let failure = match result {
            Err(e) if e.is_unavailable() => Some("unavailable"),
            Err(_) => Some("database"),
            Ok(_) => None,
        };
        self.metrics.store_query(StoreOp::Read, started.elapsed(), failure);
    }
}

#[async_trait]
impl<R: Exec> Exec for Timed<'_, R> {
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }

    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, DbError> {
        let started = Instant::now();
        let result = self.inner.execute(sql, args).await;
        self.record(started, &result);
        result
    }

    async fn fetch_all(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, DbError> {
        let started = Instant::now();
        let result = self.inner.fetch_all(sql, args).await;
        self.record(started, &result);
        result
    }

    async fn execute_script(&mut self, sql: &str) -> Result<(), DbError> {
        self.inner.execute_script(sql).await
    }
}

#[async_trait]
impl<B: Backend> Store for B {
    fn kind(&self) -> &'static str {
        B::KIND
    }

    async fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        meta::get_meta(&mut read(self), key).await
    }

    fn pool_status(&self) -> PoolStatus {
        Backend::pool_status(self)
    }

    async fn workspace_counts(&self, workspace_id: Option<&str>) -> Result<Vec<WorkspaceCounts>> {
        workspaces::workspace_counts(&mut read(self), workspace_id).await
    }

    async fn pending_migrations(&self) -> Result<Vec<&'static str>> {
        migrate::pending(&mut read(self)).await
    }

    async fn backup(&self, created_at: i64) -> Result<Backup> {
        // Events still pending are backed up as they are; sealing them first keeps that rare.
        self.seal_audit(None).await?;
        self.read_snapshot(Box::new(move |c: &mut dyn Exec| {
            Box::pin(backup::snapshot(c, B::KIND, created_at))
        }))
        .await
    }

    async fn restore(&self, backup: Backup) -> Result<()> {
        write(self, move |c| {
            Box::pin(async move { backup::restore(c, &backup).await })
        })
        .await
    }

    async fn startup_state(&self) -> Result<StartupState> {
        startup::startup_state(&mut self.reader()).await
    }

    async fn put_meta_if_absent(&self, key: &str, value: &[u8]) -> Result<bool> {
        let (key, value) = (key.to_owned(), value.to_owned());
        write(self, move |c| Box::pin(meta::put_meta_if_absent(c, key, value))).await
    }

    async fn keyring(&self) -> Result<Vec<KeyringRow>> {
        keyring::keyring(&mut read(self)).await
    }

    async fn add_active_kek(&self, row: KeyringRow) -> Result<bool> {
        write(self, move |c| Box::pin(keyring::add_active_kek(c, row))).await
    }

    async fn wrapped_deks_below(&self, key_version: i64, limit: i64) -> Result<Vec<WrappedDekRow>> {
        keyring::wrapped_deks_below(&mut read(self), key_version, limit).await
    }

    async fn key_version_counts(&self, key_version: i64) -> Result<KeyVersionCounts> {
        keyring::key_version_counts(&mut read(self), key_version).await
    }

    async fn store_rewrapped(&self, batch: Vec<Rewrapped>) -> Result<u64> {
        write(self, move |c| Box::pin(keyring::store_rewrapped(c, batch))).await
    }

    async fn rekey(&self, rekey: Rekey) -> Result<()> {
        write(self, move |c| Box::pin(keyring::rekey(c, rekey))).await
    }

    fn use_audit_chain_key(&self, key: AuditChainKey) {
        self.set_chain_key(Some(key));
    }

    fn forget_audit_chain_key(&self) {
        self.set_chain_key(None);
    }

    async fn root_wrapped_data_keys(&self) -> Result<u64> {
        keyring::root_wrapped_data_keys(&mut read(self)).await
    }

    async fn create_workspace(
        &self,
        workspace: WorkspaceRow,
        owner: MemberRow,
        token: Option<TokenRow>,
        audit: AuditRecord,
    ) -> Result<()> {
        write(self, move |c| {
            Box::pin(workspaces::create_workspace(c, workspace, owner, token, audit))
        })
        .await
    }

    async fn workspace_by_name(&self, name: &str) -> Result<Option<WorkspaceRow>> {
        workspaces::workspace_by_name(&mut read(self), name).await
    }

    async fn workspace_by_id(&self, id: &str) -> Result<Option<WorkspaceRow>> {
        workspaces::workspace_by_id(&mut read(self), id).await
    }

    async fn insert_member(&self, member: MemberRow, audit: AuditRecord) -> Result<()> {
        write(self, move |c| Box::pin(members::insert_member(c, member, audit))).await
    }

    async fn member_by_email(&self, workspace_id: &str, email: &str) -> Result<Option<MemberRow>> {
        members::member_by_email(&mut read(self), workspace_id, email).await
    }

    async fn member_by_id(&self, member_id: &str) -> Result<Option<MemberRow>> {
        members::member_by_id(&mut read(self), member_id).await
    }

    async fn list_members(&self, workspace_id: &str) -> Result<Vec<MemberRow>> {
        members::list_members(&mut read(self), workspace_id).await
    }

    async fn set_member_role(&self, workspace_id: &str, member_id: &str, role: &str, audit: AuditRecord) -> Result<()> {
        let (workspace_id, member_id, role) = (workspace_id.to_owned(), member_id.to_owned(), role.to_owned());
        write(self, move |c| {
            Box::pin(members::set_member_role(c, workspace_id, member_id, role, audit))
        })
        .await
    }

    async fn delete_member(&self, workspace_id: &str, member_id: &str, audit: AuditRecord) -> Result<()> {
        let (workspace_id, member_id) = (workspace_id.to_owned(), member_id.to_owned());
        write(self, move |c| {
            Box::pin(members::delete_member(c, workspace_id, member_id, audit))
        })
        .await
    }

    async fn insert_identity(&self, identity: IdentityRow, audit: AuditRecord) -> Result<()> {
        write(self, move |c| Box::pin(identities::insert_identity(c, identity, audit))).await
    }

    async fn identity_by_name(&self, workspace_id: &str, name: &str) -> Result<Option<IdentityRow>> {
        identities::identity_by_name(&mut read(self), workspace_id, name).await
    }

    async fn list_identities(&self, workspace_id: &str) -> Result<Vec<IdentityRow>> {
        identities::list_identities(&mut read(self), workspace_id).await
    }

    async fn set_identity_tags(
        &self,
        workspace_id: &str,
        identity_id: &str,
        tags: &str,
        audit: AuditRecord,
    ) -> Result<()> {
        let (workspace_id, identity_id, tags) = (workspace_id.to_owned(), identity_id.to_owned(), tags.to_owned());
        write(self, move |c| {
            Box::pin(identities::set_identity_tags(c, workspace_id, identity_id, tags, audit))
        })
        .await
    }

    async fn delete_identity(&self, workspace_id: &str, identity_id: &str, audit: AuditRecord) -> Result<()> {
        let (workspace_id, identity_id) = (workspace_id.to_owned(), identity_id.to_owned());
        write(self, move |c| {
            Box::pin(identities::delete_identity(c, workspace_id, identity_id, audit))
        })
        .await
    }

    async fn set_identity_env(
        &self,
        workspace_id: &str,
        identity_id: &str,
        key: &str,
        value: &str,
        audit: AuditRecord,
    ) -> Result<()> {
        let (workspace_id, identity_id) = (workspace_id.to_owned(), identity_id.to_owned());
        let (key, value) = (key.to_owned(), value.to_owned());
        write(self, move |c| {
            Box::pin(identities::set_identity_env(
                c,
                workspace_id,
                identity_id,
                key,
                value,
                audit,
            ))
        })
        .await
    }

    async fn unset_identity_env(
        &self,
        workspace_id: &str,
        identity_id: &str,
        key: &str,
        audit: AuditRecord,
    ) -> Result<()> {
        let (workspace_id, identity_id, key) = (workspace_id.to_owned(), identity_id.to_owned(), key.to_owned());
        write(self, move |c| {
            Box::pin(identities::unset_identity_env(c, workspace_id, identity_id, key, audit))
        })
        .await
    }

    async fn identity_env(&self, identity_id: &str) -> Result<Vec<(String, String)>> {
        identities::identity_env(&mut read(self), identity_id).await
    }

    async fn insert_policy(&self, policy: PolicyRow, audit: AuditRecord) -> Result<()> {
        write(self, move |c| Box::pin(policies::insert_policy(c, policy, audit))).await
    }

    async fn list_policies(&self, workspace_id: &str) -> Result<Vec<PolicyRow>> {
        policies::list_policies(&mut read(self), workspace_id).await
    }

    async fn delete_policy(&self, workspace_id: &str, policy_id: &str, audit: AuditRecord) -> Result<()> {
        let (workspace_id, policy_id) = (workspace_id.to_owned(), policy_id.to_owned());
        write(self, move |c| {
            Box::pin(policies::delete_policy(c, workspace_id, policy_id, audit))
        })
        .await
    }

    async fn insert_action(&self, action: ActionRow, audit: AuditRecord) -> Result<()> {
        write(self, move |c| Box::pin(actions::insert_action(c, action, audit))).await
    }

    async fn list_actions(&self, workspace_id: &str) -> Result<Vec<ActionRow>> {
        actions::list_actions(&mut read(self), workspace_id).await
    }

    async fn action_by_name(&self, workspace_id: &str, name: &str) -> Result<Option<ActionRow>> {
        actions::action_by_name(&mut read(self), workspace_id, name).await
    }

    async fn update_action(&self, update: ActionUpdate, audit: AuditRecord) -> Result<()> {
        write(self, move |c| Box::pin(actions::update_action(c, update, audit))).await
    }

    async fn delete_action(&self, workspace_id: &str, action_id: &str, audit: AuditRecord) -> Result<()> {
        let (workspace_id, action_id) = (workspace_id.to_owned(), action_id.to_owned());
        write(self, move |c| {
            Box::pin(actions::delete_action(c, workspace_id, action_id, audit))
        })
        .await
    }

    async fn token_settings(&self, workspace_id: &str) -> Result<Option<TokenSettingsRow>> {
        federations::token_settings(&mut read(self), workspace_id).await
    }

    async fn set_token_settings(&self, row: TokenSettingsRow, audit: AuditRecord) -> Result<()> {
        write(self, move |c| Box::pin(federations::set_token_settings(c, row, audit))).await
    }

    async fn insert_federation(&self, row: FederationRow, audit: AuditRecord) -> Result<()> {
        write(self, move |c| Box::pin(federations::insert_federation(c, row, audit))).await
    }

    async fn list_federations(&self, workspace_id: &str, identity_id: &str) -> Result<Vec<FederationRow>> {
        federations::list_federations(&mut read(self), workspace_id, identity_id).await
    }

    async fn delete_federation(
        &self,
        workspace_id: &str,
        identity_id: &str,
        id: &str,
        audit: AuditRecord,
    ) -> Result<()> {
        let (workspace_id, identity_id, id) = (workspace_id.to_owned(), identity_id.to_owned(), id.to_owned());
        write(self, move |c| {
            Box::pin(federations::delete_federation(c, workspace_id, identity_id, id, audit))
        })
        .await
    }

    async fn insert_token(&self, token: TokenRow, audit: AuditRecord) -> Result<()> {
        write(self, move |c| Box::pin(tokens::insert_token(c, token, audit))).await
    }

    async fn token_by_hash(&self, hash: &[u8]) -> Result<Option<TokenRow>> {
        tokens::token_by_hash(&mut read(self), hash).await
    }

    async fn token_with_member(&self, hash: &[u8]) -> Result<Option<(TokenRow, MemberRow, WorkspaceRow)>> {
        tokens::token_with_member(&mut read(self), hash).await
    }

    async fn token_with_identity(&self, hash: &[u8]) -> Result<Option<(TokenRow, IdentityRow, WorkspaceRow)>> {
        tokens::token_with_identity(&mut read(self), hash).await
    }

    async fn list_tokens(&self, workspace_id: &str, member_id: &str, kind: &str) -> Result<Vec<TokenRow>> {
        tokens::list_tokens(&mut read(self), workspace_id, member_id, kind).await
    }

    async fn revoke_token(
        &self,
        workspace_id: &str,
        member_id: &str,
        token_id: &str,
        at: i64,
        audit: AuditRecord,
    ) -> Result<()> {
        let (workspace_id, member_id, token_id) = (workspace_id.to_owned(), member_id.to_owned(), token_id.to_owned());
        write(self, move |c| {
            Box::pin(tokens::revoke_token(c, workspace_id, member_id, token_id, at, audit))
        })
        .await
    }

    async fn list_identity_tokens(&self, workspace_id: &str, identity_id: &str) -> Result<Vec<TokenRow>> {
        tokens::list_identity_tokens(&mut read(self), workspace_id, identity_id).await
    }

    async fn revoke_identity_token(
        &self,
        workspace_id: &str,
        identity_id: &str,
        token_id: &str,
        at: i64,
        audit: AuditRecord,
    ) -> Result<()> {
        let (workspace_id, identity_id, token_id) =
            (workspace_id.to_owned(), identity_id.to_owned(), token_id.to_owned());
        write(self, move |c| {
            Box::pin(tokens::revoke_identity_token(
                c,
                workspace_id,
                identity_id,
                token_id,
                at,
                audit,
            ))
        })
        .await
    }

    async fn touch_token(&self, token_id: &str, at: i64) -> Result<()> {
        let token_id = token_id.to_owned();
        write(self, move |c| Box::pin(tokens::touch_token(c, token_id, at))).await
    }

    async fn delete_expired_tokens(&self, kind: &str, before: i64) -> Result<u64> {
        let kind = kind.to_owned();
        write(self, move |c| Box::pin(tokens::delete_expired_tokens(c, kind, before))).await
    }

    async fn insert_secret(
        &self,
        secret: SecretRow,
        first_version: SecretVersionRow,
        audit: AuditRecord,
    ) -> Result<()> {
        write(self, move |c| {
            Box::pin(secrets::insert_secret(c, secret, first_version, audit))
        })
        .await
    }

    async fn secret_by_name(&self, workspace_id: &str, name: &str) -> Result<Option<SecretRow>> {
        secrets::secret_by_name(&mut read(self), workspace_id, name).await
    }

    async fn secret_with_version(
        &self,
        workspace_id: &str,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<(SecretRow, Option<SecretVersionRow>)>> {
        secrets::secret_with_version(&mut read(self), workspace_id, name, version).await
    }

    async fn list_secrets(&self, workspace_id: &str, filter: &SecretFilter) -> Result<Vec<SecretRow>> {
        secrets::list_secrets(&mut read(self), workspace_id, filter).await
    }

    async fn secret_version(&self, secret_id: &str, version: i64) -> Result<Option<SecretVersionRow>> {
        secrets::secret_version(&mut read(self), secret_id, version).await
    }

    async fn list_versions(&self, secret_id: &str) -> Result<Vec<VersionMeta>> {
        secrets::list_versions(&mut read(self), secret_id).await
    }

    async fn update_secret(&self, update: SecretUpdate, audit: AuditRecord) -> Result<SecretRow> {
        write(self, move |c| Box::pin(secrets::update_secret(c, update, audit))).await
    }

    async fn set_secret_trashed(
        &self,
        workspace_id: &str,
        secret_id: &str,
        deleted: Option<(i64, String)>,
        audit: AuditRecord,
    ) -> Result<()> {
        let (workspace_id, secret_id) = (workspace_id.to_owned(), secret_id.to_owned());
        write(self, move |c| {
            Box::pin(secrets::set_secret_trashed(c, workspace_id, secret_id, deleted, audit))
        })
        .await
    }

    async fn purge_secret(&self, workspace_id: &str, secret_id: &str, audit: AuditRecord) -> Result<()> {
        let (workspace_id, secret_id) = (workspace_id.to_owned(), secret_id.to_owned());
        write(self, move |c| {
            Box::pin(secrets::purge_secret(c, workspace_id, secret_id, audit))
        })
        .await
    }

    async fn live_secrets_with_current_version(
        &self,
        workspace_id: &str,
    ) -> Result<Vec<(SecretRow, SecretVersionRow)>> {
        secrets::live_secrets_with_current_version(&mut read(self), workspace_id).await
    }

    async fn live_secrets_tagged(
        &self,
        workspace_id: &str,
        any_of: &[Vec<(String, String)>],
    ) -> Result<Vec<(SecretRow, SecretVersionRow)>> {
        secrets::live_secrets_tagged(&mut read(self), workspace_id, any_of).await
    }

    async fn trashed_before(&self, before: i64) -> Result<Vec<SecretRow>> {
        secrets::trashed_before(&mut read(self), before).await
    }

    async fn sso_settings(&self, workspace_id: &str) -> Result<Option<SsoSettingsRow>> {
        sso::sso_settings(&mut read(self), workspace_id).await
    }

    async fn put_sso_settings(&self, row: SsoSettingsRow, audit: AuditRecord) -> Result<()> {
        write(self, move |c| Box::pin(sso::put_sso_settings(c, row, audit))).await
    }

    async fn insert_sso_login(&self, row: SsoLoginRow, now: i64) -> Result<()> {
        write(self, move |c| Box::pin(sso::insert_sso_login(c, row, now))).await
    }

    async fn take_sso_login(&self, id: &[u8], stage: &str, now: i64) -> Result<Option<SsoLoginRow>> {
        let (id, stage) = (id.to_vec(), stage.to_owned());
        write(self, move |c| Box::pin(sso::take_sso_login(c, id, stage, now))).await
    }

    async fn count_login_attempt(&self, keys: &[String], window_start: i64) -> Result<Vec<i64>> {
        let keys = keys.to_vec();
        write(self, move |c| {
            Box::pin(login_attempts::count_login_attempt(c, keys, window_start))
        })
        .await
    }

    async fn refund_login_attempt(&self, keys: &[String], window_start: i64) -> Result<()> {
        let keys = keys.to_vec();
        write(self, move |c| {
            Box::pin(login_attempts::refund_login_attempt(c, keys, window_start))
        })
        .await
    }

    async fn delete_login_attempts_before(&self, before: i64) -> Result<u64> {
        write(self, move |c| {
            Box::pin(login_attempts::delete_login_attempts_before(c, before))
        })
        .await
    }

    async fn append_read(&self, audit: AuditRecord, used: &[String], at: i64, by: &str) -> Result<()> {
        let (used, by) = (used.to_vec(), by.to_owned());
        write(self, move |c| Box::pin(audit::append_read(c, audit, used, at, by))).await
    }

    async fn append_audit(&self, audit: AuditRecord) -> Result<()> {
        if audit::one_statement_append(self.reader().dialect()) {
            return write_one(self, move |c| Box::pin(audit::append_audit(c, audit))).await;
        }
        write(self, move |c| Box::pin(audit::append_audit(c, audit))).await
    }

    async fn append_audits(&self, records: Vec<AuditRecord>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        write(self, move |c| Box::pin(audit::append_audits(c, records))).await
    }

    async fn list_audit(&self, workspace_id: &str, filter: &AuditFilter) -> Result<Vec<AuditEventRow>> {
        self.seal_audit(Some(workspace_id)).await?;
        audit::list_audit(&mut read(self), workspace_id, filter).await
    }

    async fn audit_head(&self, workspace_id: &str) -> Result<Option<(i64, Vec<u8>)>> {
        self.seal_audit(Some(workspace_id)).await?;
        audit::audit_head(&mut read(self), workspace_id).await
    }

    async fn audit_heads(&self) -> Result<Vec<AuditHeadRow>> {
        self.seal_audit(None).await?;
        audit::audit_heads(&mut self.reader()).await
    }

    async fn pending_audit(&self, workspace_id: &str) -> Result<Vec<PendingAuditRow>> {
        audit::list_pending(&mut read(self), workspace_id).await
    }
}
