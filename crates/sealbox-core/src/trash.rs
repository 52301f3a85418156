//! The trash: deleting moves a secret there (its name stays reserved), restore brings it back
//! with its history, purge deletes it for good, and the retention sweep purges what has been
//! there longer than the retention period.

use sealbox_store::StoreError;
use sealbox_types::{SecretDetails, SecretListQuery, codes};
use serde_json::json;

use crate::Sealbox;
use crate::audit::{AuditAction, Outcome};
use crate::error::{CoreError, CoreResult};
use crate::principal::{Permission, Principal, RequestContext, SecretScope, authorize};
use crate::secrets::{Secret, not_found};
use crate::validate::SecretName;

impl Sealbox {
    pub async fn list_trash(&self, p: &Principal) -> CoreResult<Vec<SecretDetails>> {
        authorize(p, Permission::ViewSecrets)?;
        self.list(p, SecretListQuery::default(), true, &SecretScope::All).await
    }

    /// Moves a secret to the trash; its name stays reserved until it is purged.
    pub async fn delete_secret(&self, p: &Principal, ctx: &RequestContext, name: &str) -> CoreResult<SecretDetails> {
        authorize(p, Permission::ManageSecrets)?;
        let name = SecretName::parse(name)?;
        let mut secret = self.live_secret(p, name.as_str()).await?;
        let now = self.now();
        let record = self.secret_audit(
            p,
            ctx,
            AuditAction::SecretDelete,
            &name,
            json!({ "version": secret.row.current_version }),
        );
        match self
            .store
            .set_secret_trashed(p.workspace_id(), &secret.row.id, Some((now, p.label())), record)
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(not_found(&name)),
            Err(e) => return Err(e.into()),
        }
        secret.row.deleted_at = Some(now);
        secret.row.deleted_by = Some(p.label());
        self.details(&secret)
    }

    pub async fn restore_secret(&self, p: &Principal, ctx: &RequestContext, name: &str) -> CoreResult<SecretDetails> {
        authorize(p, Permission::ManageSecrets)?;
        let name = SecretName::parse(name)?;
        let mut secret = self.trashed_secret(p, &name).await?;
        let record = self.secret_audit(
            p,
            ctx,
            AuditAction::SecretRestore,
            &name,
            json!({ "version": secret.row.current_version }),
        );
        match self
            .store
            .set_secret_trashed(p.workspace_id(), &secret.row.id, None, record)
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(not_in_trash(&name)),
            Err(e) => return Err(e.into()),
        }
        secret.row.deleted_at = None;
        secret.row.deleted_by = None;
        self.details(&secret)
    }

    /// Deletes a trashed secret and its whole history for good.
    pub async fn purge_secret(&self, p: &Principal, ctx: &RequestContext, name: &str) -> CoreResult<()> {
        authorize(p, Permission::ManageSecrets)?;
        let name = SecretName::parse(name)?;
        let row = self.trashed_secret(p, &name).await?.row;
        let record = self.secret_audit(
            p,
            ctx,
            AuditAction::SecretPurge,
            &name,
            json!({ "versions": row.current_version }),
        );
        match self.store.purge_secret(p.workspace_id(), &row.id, record).await {
            Err(StoreError::NotFound) => Err(not_in_trash(&name)),
            other => Ok(other?),
        }
    }

    /// Purges every secret that has been in the trash longer than the retention period.
    /// Returns how many were purged.
    pub async fn sweep_trash(&self) -> CoreResult<usize> {
        let before = self.now() - self.config.trash_retention_ms;
        let expired = self.store.trashed_before(before).await?;
        let ctx = RequestContext {
            request_id: "trash-sweep".into(),
            client_addr: "local".into(),
        };
        let mut purged = 0;
        for row in expired {
            let record = self.audit_record(
                &row.workspace_id,
                "system:trash-retention".into(),
                &ctx,
                AuditAction::SecretPurge,
                format!("secret:{}", row.name),
                Outcome::Success,
                json!({ "versions": row.current_version, "reason": "retention" }),
            );
            match self.store.purge_secret(&row.workspace_id, &row.id, record).await {
                Ok(()) => purged += 1,
                Err(StoreError::NotFound) => {} // restored or purged meanwhile
                Err(e) => return Err(e.into()),
            }
        }
        Ok(purged)
    }

    async fn trashed_secret(&self, p: &Principal, name: &SecretName) -> CoreResult<Secret> {
        match self.store.secret_by_name(p.workspace_id(), name.as_str()).await? {
            Some(row) if row.deleted_at.is_some() => Secret::decode(row),
            Some(_) => Err(not_in_trash(name)),
            None => Err(not_found(name)),
        }
    }
}

fn not_in_trash(name: &SecretName) -> CoreError {
    CoreError::not_found(codes::SECRET_NOT_FOUND, format!("secret {name} is not in the trash"))
}
