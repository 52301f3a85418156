//! Workspaces: the first one with its owner (bootstrap), and new ones made by an owner or admin.

use sealbox_crypto::{self as crypto, ExposeSecret, SecretString};
use sealbox_store::{MemberRow, StoreError, WorkspaceRow};
use sealbox_types::{Role, codes};
use serde_json::json;

use crate::audit::{AuditAction, Outcome};
use crate::error::{CoreError, CoreResult};
use crate::principal::{Permission, Principal, RequestContext, authorize};
use crate::tokens::{TokenKind, TokenOwner};
use crate::validate;
use crate::{Sealbox, new_id};

/// What the first start hands to the operator (written to a 0600 file by the server).
pub struct BootstrapCredentials {
    pub workspace: String,
    pub email: String,
    pub password: SecretString,
    pub token: SecretString,
}

impl Sealbox {
    pub async fn workspace_exists(&self, name: &str) -> CoreResult<bool> {
        Ok(self.store.workspace_by_name(name).await?.is_some())
    }

    /// Creates the first workspace and its owner when the store has no workspace named
    /// `workspace`. Returns `None` when it exists already.
    pub async fn bootstrap(&self, workspace: &str, email: &str) -> CoreResult<Option<BootstrapCredentials>> {
        if self.store.workspace_by_name(workspace).await?.is_some() {
            return Ok(None);
        }
        let workspace = validate::workspace_name(workspace)?;
        let email = validate::email(email)?;
        let password = crypto::generate_password();
        let password_hash = self.hashing.hash(&password).await?;
        let ctx = RequestContext {
            request_id: "bootstrap".into(),
            client_addr: "local".into(),
        };
        match self
            .insert_workspace(
                &workspace,
                &email,
                password_hash,
                "bootstrap token",
                "system:bootstrap".into(),
                &ctx,
            )
            .await
        {
            Ok(token) => Ok(Some(BootstrapCredentials {
                workspace,
                email,
                password,
                token,
            })),
            // Another replica bootstrapped at the same moment.
            Err(e) if e.code == codes::WORKSPACE_EXISTS => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A new workspace whose first owner is the caller (same e-mail and password); returns a
    /// personal access token for it.
    pub async fn create_workspace(&self, p: &Principal, ctx: &RequestContext, name: &str) -> CoreResult<String> {
        authorize(p, Permission::CreateWorkspace)?;
        let name = validate::workspace_name(name)?;
        let me =
            self.store.member_by_id(&p.member()?.id).await?.ok_or_else(|| {
                CoreError::unauthenticated(codes::AUTH_INVALID_TOKEN, "your membership no longer exists")
            })?;
        let token = self
            .insert_workspace(
                &name,
                &p.member()?.email,
                me.password_hash,
                "created with the workspace",
                p.label(),
                ctx,
            )
            .await?;
        // EXPOSE: the new token is returned to its owner exactly once.
        Ok(token.expose_secret().to_owned())
    }

    async fn insert_workspace(
        &self,
        name: &str,
        email: &str,
        password_hash: String,
        token_name: &str,
        actor: String,
        ctx: &RequestContext,
    ) -> CoreResult<SecretString> {
        let now = self.now();
        let workspace = WorkspaceRow {
            id: new_id(),
            name: name.to_owned(),
            created_at: now,
        };
        let owner = MemberRow {
            id: new_id(),
            workspace_id: workspace.id.clone(),
            email: email.to_owned(),
            password_hash,
            role: Role::Owner.as_str().to_owned(),
            created_at: now,
        };
        let (token, token_row) = self.new_token(
            &workspace.id,
            TokenOwner::Member(&owner.id),
            TokenKind::Personal,
            token_name,
            None,
        );
        let audit = self.audit_record(
            &workspace.id,
            actor,
            ctx,
            AuditAction::WorkspaceCreate,
            format!("workspace:{name}"),
            Outcome::Success,
            json!({ "owner": email }),
        );
        match self
            .store
            .create_workspace(workspace, owner, Some(token_row), audit)
            .await
        {
            Ok(()) => Ok(token),
            Err(StoreError::Duplicate(_)) => Err(CoreError::conflict(
                codes::WORKSPACE_EXISTS,
                format!("a workspace named {name} already exists; choose another name"),
            )),
            Err(e) => Err(e.into()),
        }
    }
}
