//! Operating the server: taking a backup of the whole database, rotating the keyring.

use sealbox_types::RotationStatus;
use serde_json::json;

use crate::Sealbox;
use crate::audit::{AuditAction, Outcome};
use crate::error::{CoreError, CoreResult};
use crate::principal::{Permission, Principal, RequestContext, authorize};

/// The workspace a server bootstraps on its first start. Its owners operate the server: a
/// backup holds every workspace, so only they may take one.
pub const SERVER_WORKSPACE: &str = "default";

impl Sealbox {
    /// A backup file of the whole database (every workspace; ciphertext only), for an owner of
    /// [`SERVER_WORKSPACE`]. Its audit event is recorded first (fail-closed), so the backup
    /// holds it.
    pub async fn backup(&self, p: &Principal, ctx: &RequestContext) -> CoreResult<Vec<u8>> {
        self.authorize_operator(
            p,
            ctx,
            Permission::BackupServer,
            AuditAction::ServerBackup,
            "take a backup",
        )
        .await?;
        let record = self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            AuditAction::ServerBackup,
            "server".into(),
            Outcome::Success,
            json!({"source": self.store.kind()}),
        );
        self.store.append_audit(record).await?;
        let backup = self.store.backup(self.now()).await?;
        Ok(backup.to_bytes())
    }

    /// Adds a keyring version, active at once for new data keys; the data keys already stored
    /// are rewrapped to it in the background. Owners of [`SERVER_WORKSPACE`]; audited
    /// `server.rotate` first (fail-closed).
    pub async fn rotate(&self, p: &Principal, ctx: &RequestContext) -> CoreResult<RotationStatus> {
        self.authorize_operator(
            p,
            ctx,
            Permission::RotateKeys,
            AuditAction::ServerRotate,
            "rotate the keys",
        )
        .await?;
        let before = self.keyring.active().version();
        let record = self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            AuditAction::ServerRotate,
            "server".into(),
            Outcome::Success,
            json!({"previous_version": before}),
        );
        self.store.append_audit(record).await?;
        self.keyring.rotate().await?;
        self.keyring.status().await
    }

    /// The keyring's active version and the rewrapping's progress. Owners of [`SERVER_WORKSPACE`].
    pub async fn rotation_status(&self, p: &Principal, ctx: &RequestContext) -> CoreResult<RotationStatus> {
        self.authorize_operator(
            p,
            ctx,
            Permission::RotateKeys,
            AuditAction::ServerRotate,
            "see the rotation",
        )
        .await?;
        self.keyring.status().await
    }

    /// An owner of [`SERVER_WORKSPACE`] may operate the server (it concerns every workspace);
    /// anyone else is refused, and the refusal audited as `action`.
    async fn authorize_operator(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        permission: Permission,
        action: AuditAction,
        what: &str,
    ) -> CoreResult<()> {
        if let Err(e) = authorize(p, permission) {
            self.audit_denied(p, ctx, action, "server".into()).await;
            return Err(e);
        }
        let workspace = self.store.workspace_by_id(p.workspace_id()).await?;
        if workspace.is_none_or(|w| w.name != SERVER_WORKSPACE) {
            self.audit_denied(p, ctx, action, "server".into()).await;
            return Err(CoreError::forbidden(format!(
                "this concerns every workspace: only owners of the server's first workspace \
                 ({SERVER_WORKSPACE}) may {what}"
            )));
        }
        Ok(())
    }
}
