//! A workspace's settings: the default and maximum lifetimes of its personal access tokens and
//! identity tokens (exchanged ones included). Sessions from a password sign-in keep the server's
//! session lifetime.

use sealbox_store::TokenSettingsRow;
use sealbox_types::{UpdateWorkspaceSettingsRequest, WorkspaceSettings, codes};
use serde_json::json;

use crate::Sealbox;
use crate::audit::{AuditAction, Outcome};
use crate::clock::format_ms;
use crate::error::{CoreError, CoreResult};
use crate::principal::{Permission, Principal, RequestContext, authorize};
use crate::tokens::{MAX_TOKEN_TTL_SECONDS, MIN_TOKEN_TTL_SECONDS, human_ttl};

/// A workspace's token lifetimes in seconds; `None`: no default / no maximum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TokenLifetimes {
    pub default_seconds: Option<u64>,
    pub max_seconds: Option<u64>,
}

impl Sealbox {
    pub(crate) async fn token_lifetimes(&self, workspace_id: &str) -> CoreResult<TokenLifetimes> {
        Ok(self
            .store
            .token_settings(workspace_id)
            .await?
            .map(|row| TokenLifetimes {
                default_seconds: row.default_token_ttl_seconds.and_then(|s| u64::try_from(s).ok()),
                max_seconds: row.max_token_ttl_seconds.and_then(|s| u64::try_from(s).ok()),
            })
            .unwrap_or_default())
    }

    /// The caller's workspace's settings; every member may read them.
    pub async fn workspace_settings(&self, p: &Principal) -> CoreResult<WorkspaceSettings> {
        authorize(p, Permission::ViewWorkspaceSettings)?;
        let row = self.store.token_settings(p.workspace_id()).await?;
        Ok(settings_view(p.workspace_name(), row.as_ref()))
    }

    /// Changes the token lifetimes (owners and admins); a field left out stays, `null` removes
    /// it. Tokens that exist keep their expiry.
    pub async fn update_workspace_settings(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        req: &UpdateWorkspaceSettingsRequest,
    ) -> CoreResult<WorkspaceSettings> {
        authorize(p, Permission::ManageWorkspaceSettings)?;
        let current = self.token_lifetimes(p.workspace_id()).await?;
        let default_seconds = req.default_token_ttl_seconds.unwrap_or(current.default_seconds);
        let max_seconds = req.max_token_ttl_seconds.unwrap_or(current.max_seconds);
        for (field, value) in [
            ("default_token_ttl_seconds", default_seconds),
            ("max_token_ttl_seconds", max_seconds),
        ] {
            if let Some(s) = value
                && !(MIN_TOKEN_TTL_SECONDS..=MAX_TOKEN_TTL_SECONDS).contains(&s)
            {
                return Err(CoreError::invalid(
                    codes::WORKSPACE_SETTINGS_INVALID,
                    format!("{field}: must be from 60 seconds to 10 years (or null for none)"),
                ));
            }
        }
        if let (Some(default), Some(max)) = (default_seconds, max_seconds)
            && default > max
        {
            return Err(CoreError::invalid(
                codes::WORKSPACE_SETTINGS_INVALID,
                format!(
                    "the default token lifetime ({}) is longer than the maximum ({}); lower the default too",
                    human_ttl(default),
                    human_ttl(max)
                ),
            ));
        }
        let row = TokenSettingsRow {
            workspace_id: p.workspace_id().to_owned(),
            default_token_ttl_seconds: default_seconds.map(|s| s as i64),
            max_token_ttl_seconds: max_seconds.map(|s| s as i64),
            updated_at: self.now(),
            updated_by: p.label(),
        };
        let record = self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            AuditAction::WorkspaceSettingsUpdate,
            format!("workspace:{}", p.workspace_name()),
            Outcome::Success,
            json!({
                "default_token_ttl_seconds": default_seconds,
                "max_token_ttl_seconds": max_seconds,
            }),
        );
        self.store.set_token_settings(row.clone(), record).await?;
        Ok(settings_view(p.workspace_name(), Some(&row)))
    }
}

fn settings_view(workspace: &str, row: Option<&TokenSettingsRow>) -> WorkspaceSettings {
    WorkspaceSettings {
        workspace: workspace.to_owned(),
        default_token_ttl_seconds: row
            .and_then(|r| r.default_token_ttl_seconds)
            .and_then(|s| u64::try_from(s).ok()),
        max_token_ttl_seconds: row
            .and_then(|r| r.max_token_ttl_seconds)
            .and_then(|s| u64::try_from(s).ok()),
        updated_at: row.map(|r| format_ms(r.updated_at)),
        updated_by: row.map(|r| r.updated_by.clone()),
    }
}
