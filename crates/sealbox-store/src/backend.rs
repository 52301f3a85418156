//! What a database backend provides (somewhere to read, a way to run a write transaction), and
//! the one [`Store`] implementation built on it from the queries of the table modules.

use async_trait::async_trait;
use futures_util::future::BoxFuture;

use crate::db::{Exec, Keyed};
use crate::{
    ActionRow, ActionUpdate, AuditChainKey, AuditEventRow, AuditFilter, AuditHeadRow, AuditRecord, IdentityRow,
    MemberRow, PolicyRow, Result, SecretFilter, SecretRow, SecretUpdate, SecretVersionRow, Store, TokenRow,
    VersionMeta, WorkspaceRow,
};
use crate::{actions, audit, identities, login_attempts, members, meta, policies, secrets, tokens, workspaces};

/// A unit of work run inside a write transaction.
pub(crate) type Job<T> = Box<dyn for<'c> FnOnce(&'c mut dyn Exec) -> BoxFuture<'c, Result<T>> + Send>;

#[async_trait]
pub(crate) trait Backend: Send + Sync + 'static {
    const KIND: &'static str;
    type Reader: Exec + Clone;

    /// Where reads run (a pool).
    fn reader(&self) -> Self::Reader;

    /// The key write transactions seal audit events with.
    fn chain_key(&self) -> &AuditChainKey;

    /// Runs `job` in a write transaction and answers once the transaction is committed
    /// (or with the job's error, and nothing of it written).
    async fn write<T: Send + 'static>(&self, job: Job<T>) -> Result<T>;
}

/// Boxes `job` for [`Backend::write`]; taking the closure here lets its signature be inferred.
async fn write<B, T, F>(backend: &B, job: F) -> Result<T>
where
    B: Backend,
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut dyn Exec) -> BoxFuture<'c, Result<T>> + Send + 'static,
{
    let key = backend.chain_key().clone();
    backend
        .write(Box::new(move |c: &mut dyn Exec| {
            Box::pin(async move {
                let mut keyed = Keyed { inner: c, key: &key };
                job(&mut keyed).await
            })
        }))
        .await
}

#[async_trait]
impl<B: Backend> Store for B {
    fn kind(&self) -> &'static str {
        B::KIND
    }

    async fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        meta::get_meta(&mut self.reader(), key).await
    }

    async fn put_meta_if_absent(&self, key: &str, value: &[u8]) -> Result<bool> {
        let (key, value) = (key.to_owned(), value.to_owned());
        write(self, move |c| Box::pin(meta::put_meta_if_absent(c, key, value))).await
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
        workspaces::workspace_by_name(&mut self.reader(), name).await
    }

    async fn workspace_by_id(&self, id: &str) -> Result<Option<WorkspaceRow>> {
        workspaces::workspace_by_id(&mut self.reader(), id).await
    }

    async fn insert_member(&self, member: MemberRow, audit: AuditRecord) -> Result<()> {
        write(self, move |c| Box::pin(members::insert_member(c, member, audit))).await
    }

    async fn member_by_email(&self, workspace_id: &str, email: &str) -> Result<Option<MemberRow>> {
        members::member_by_email(&mut self.reader(), workspace_id, email).await
    }

    async fn member_by_id(&self, member_id: &str) -> Result<Option<MemberRow>> {
        members::member_by_id(&mut self.reader(), member_id).await
    }

    async fn list_members(&self, workspace_id: &str) -> Result<Vec<MemberRow>> {
        members::list_members(&mut self.reader(), workspace_id).await
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
        identities::identity_by_name(&mut self.reader(), workspace_id, name).await
    }

    async fn list_identities(&self, workspace_id: &str) -> Result<Vec<IdentityRow>> {
        identities::list_identities(&mut self.reader(), workspace_id).await
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
        identities::identity_env(&mut self.reader(), identity_id).await
    }

    async fn insert_policy(&self, policy: PolicyRow, audit: AuditRecord) -> Result<()> {
        write(self, move |c| Box::pin(policies::insert_policy(c, policy, audit))).await
    }

    async fn list_policies(&self, workspace_id: &str) -> Result<Vec<PolicyRow>> {
        policies::list_policies(&mut self.reader(), workspace_id).await
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
        actions::list_actions(&mut self.reader(), workspace_id).await
    }

    async fn action_by_name(&self, workspace_id: &str, name: &str) -> Result<Option<ActionRow>> {
        actions::action_by_name(&mut self.reader(), workspace_id, name).await
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

    async fn insert_token(&self, token: TokenRow, audit: AuditRecord) -> Result<()> {
        write(self, move |c| Box::pin(tokens::insert_token(c, token, audit))).await
    }

    async fn token_by_hash(&self, hash: &[u8]) -> Result<Option<TokenRow>> {
        tokens::token_by_hash(&mut self.reader(), hash).await
    }

    async fn token_with_member(&self, hash: &[u8]) -> Result<Option<(TokenRow, MemberRow, WorkspaceRow)>> {
        tokens::token_with_member(&mut self.reader(), hash).await
    }

    async fn token_with_identity(&self, hash: &[u8]) -> Result<Option<(TokenRow, IdentityRow, WorkspaceRow)>> {
        tokens::token_with_identity(&mut self.reader(), hash).await
    }

    async fn list_tokens(&self, workspace_id: &str, member_id: &str, kind: &str) -> Result<Vec<TokenRow>> {
        tokens::list_tokens(&mut self.reader(), workspace_id, member_id, kind).await
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
        tokens::list_identity_tokens(&mut self.reader(), workspace_id, identity_id).await
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
        secrets::secret_by_name(&mut self.reader(), workspace_id, name).await
    }

    async fn secret_with_version(
        &self,
        workspace_id: &str,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<(SecretRow, Option<SecretVersionRow>)>> {
        secrets::secret_with_version(&mut self.reader(), workspace_id, name, version).await
    }

    async fn list_secrets(&self, workspace_id: &str, filter: &SecretFilter) -> Result<Vec<SecretRow>> {
        secrets::list_secrets(&mut self.reader(), workspace_id, filter).await
    }

    async fn secret_version(&self, secret_id: &str, version: i64) -> Result<Option<SecretVersionRow>> {
        secrets::secret_version(&mut self.reader(), secret_id, version).await
    }

    async fn list_versions(&self, secret_id: &str) -> Result<Vec<VersionMeta>> {
        secrets::list_versions(&mut self.reader(), secret_id).await
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
        secrets::live_secrets_with_current_version(&mut self.reader(), workspace_id).await
    }

    async fn trashed_before(&self, before: i64) -> Result<Vec<SecretRow>> {
        secrets::trashed_before(&mut self.reader(), before).await
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

    async fn append_read(&self, audit: AuditRecord, used: &[String], at: i64, by: &str) -> Result<i64> {
        let (used, by) = (used.to_vec(), by.to_owned());
        write(self, move |c| Box::pin(audit::append_read(c, audit, used, at, by))).await
    }

    async fn append_audit(&self, audit: AuditRecord) -> Result<i64> {
        write(self, move |c| Box::pin(audit::append_audit(c, audit))).await
    }

    async fn append_audits(&self, records: Vec<AuditRecord>) -> Result<Vec<i64>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        write(self, move |c| Box::pin(audit::append_audits(c, records))).await
    }

    async fn list_audit(&self, workspace_id: &str, filter: &AuditFilter) -> Result<Vec<AuditEventRow>> {
        audit::list_audit(&mut self.reader(), workspace_id, filter).await
    }

    async fn audit_head(&self, workspace_id: &str) -> Result<Option<(i64, Vec<u8>)>> {
        audit::audit_head(&mut self.reader(), workspace_id).await
    }

    async fn audit_heads(&self) -> Result<Vec<AuditHeadRow>> {
        audit::audit_heads(&mut self.reader()).await
    }
}
