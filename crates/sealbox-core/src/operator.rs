//! Operating the server: taking a backup of the whole database, rotating the keyring, sealing,
//! and auditing what happened while it was sealed.

use sealbox_types::RotationStatus;
use serde_json::json;

use crate::Sealbox;
use crate::audit::{AuditAction, Outcome};
use crate::error::{CoreError, CoreResult};
use crate::principal::{Permission, Principal, RequestContext, authorize};

/// Something that happened while the server was sealed, kept in memory until it can be audited.
#[derive(Debug, Clone)]
pub struct SealedEvent {
    /// `server.init` rather than `server.unseal`.
    pub init: bool,
    pub at_ms: i64,
    pub request_id: String,
    pub client_addr: String,
    /// The key source, e.g. `shamir`.
    pub seal: &'static str,
    pub outcome: SealedOutcome,
    /// Why it failed (never the share or passphrase); `None` on success.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedOutcome {
    Success,
    Failure,
    /// Refused by the rate limit.
    Denied,
}

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

    /// Records that an owner of [`SERVER_WORKSPACE`] seals the server (fail-closed: no event, no
    /// sealing). The caller then drops every key.
    pub async fn seal(&self, p: &Principal, ctx: &RequestContext) -> CoreResult<()> {
        self.authorize_operator(
            p,
            ctx,
            Permission::SealServer,
            AuditAction::ServerSeal,
            "seal the server",
        )
        .await?;
        let record = self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            AuditAction::ServerSeal,
            "server".into(),
            Outcome::Success,
            json!({}),
        );
        self.store.append_audit(record).await?;
        Ok(())
    }

    /// Writes what happened while the server was sealed (init, unseal attempts, refused ones
    /// too) into [`SERVER_WORKSPACE`]'s audit log, once it is unsealed and can chain events.
    pub async fn record_sealed_events(&self, events: Vec<SealedEvent>) -> CoreResult<()> {
        let Some(workspace) = self.store.workspace_by_name(SERVER_WORKSPACE).await? else {
            return Ok(());
        };
        for event in events {
            let ctx = RequestContext {
                request_id: event.request_id,
                client_addr: event.client_addr,
            };
            let action = if event.init {
                AuditAction::ServerInit
            } else {
                AuditAction::ServerUnseal
            };
            let outcome = match event.outcome {
                SealedOutcome::Success => Outcome::Success,
                SealedOutcome::Failure => Outcome::Failure,
                SealedOutcome::Denied => Outcome::Denied,
            };
            let record = self.audit_record(
                &workspace.id,
                "operator".into(),
                &ctx,
                action,
                "server".into(),
                outcome,
                json!({"seal": event.seal, "attempted_at": event.at_ms, "reason": event.reason}),
            );
            self.store.append_audit(record).await?;
        }
        Ok(())
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
