//! Operating the server: taking a backup of the whole database.

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
        if let Err(e) = authorize(p, Permission::BackupServer) {
            self.audit_denied(p, ctx, AuditAction::ServerBackup, "server".into())
                .await;
            return Err(e);
        }
        let workspace = self.store.workspace_by_id(p.workspace_id()).await?;
        if workspace.is_none_or(|w| w.name != SERVER_WORKSPACE) {
            self.audit_denied(p, ctx, AuditAction::ServerBackup, "server".into())
                .await;
            return Err(CoreError::forbidden(format!(
                "a backup holds every workspace: only owners of the server's first workspace \
                 ({SERVER_WORKSPACE}) may take one"
            )));
        }
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
}
