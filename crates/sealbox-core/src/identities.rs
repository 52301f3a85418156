//! Identities (machine access): their tags, their own variables and their tokens.

use std::collections::BTreeMap;

use sealbox_crypto::ExposeSecret;
use sealbox_store::{IdentityRow, StoreError};
use sealbox_types::{CreatedToken, IdentityInfo, TokenInfo, codes};
use serde_json::json;

use crate::audit::{AuditAction, Outcome};
use crate::clock::format_ms;
use crate::error::{CoreError, CoreResult};
use crate::principal::{IdentityActor, Permission, Principal, RequestContext, authorize};
use crate::tokens::{TokenKind, TokenOwner, is_token_id, token_info};
use crate::validate::{self, SecretName, object_name};
use crate::{Sealbox, json_text, new_id, parse_map};

impl Sealbox {
    pub async fn create_identity(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        tags: BTreeMap<String, String>,
    ) -> CoreResult<IdentityInfo> {
        authorize(p, Permission::ManageMachineAccess)?;
        let name = object_name(codes::IDENTITY_NAME_INVALID, "identity", name)?;
        let tags =
            validate::tags(Some(tags)).map_err(|e| CoreError::invalid(codes::IDENTITY_TAGS_INVALID, e.message))?;
        let row = IdentityRow {
            id: new_id(),
            workspace_id: p.workspace_id().to_owned(),
            name: name.clone(),
            tags: json_text(&tags)?,
            created_at: self.now(),
            created_by: p.label(),
        };
        let record = self.identity_audit(p, ctx, AuditAction::IdentityCreate, &name, json!({ "tags": tags }));
        match self.store.insert_identity(row.clone(), record).await {
            Ok(()) => self.identity_info(row).await,
            Err(StoreError::Duplicate(_)) => Err(CoreError::conflict(
                codes::IDENTITY_EXISTS,
                format!("an identity named {name} already exists"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_identities(&self, p: &Principal) -> CoreResult<Vec<IdentityInfo>> {
        authorize(p, Permission::ManageMachineAccess)?;
        let mut out = Vec::new();
        for row in self.store.list_identities(p.workspace_id()).await? {
            out.push(self.identity_info(row).await?);
        }
        Ok(out)
    }

    pub async fn get_identity(&self, p: &Principal, name: &str) -> CoreResult<IdentityInfo> {
        authorize(p, Permission::ManageMachineAccess)?;
        let row = self.identity_row(p, name).await?;
        self.identity_info(row).await
    }

    pub async fn set_identity_tags(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        tags: BTreeMap<String, String>,
    ) -> CoreResult<IdentityInfo> {
        authorize(p, Permission::ManageMachineAccess)?;
        let mut row = self.identity_row(p, name).await?;
        let tags =
            validate::tags(Some(tags)).map_err(|e| CoreError::invalid(codes::IDENTITY_TAGS_INVALID, e.message))?;
        row.tags = json_text(&tags)?;
        let record = self.identity_audit(p, ctx, AuditAction::IdentityUpdate, &row.name, json!({ "tags": tags }));
        self.store
            .set_identity_tags(p.workspace_id(), &row.id, &row.tags, record)
            .await
            .map_err(|e| identity_error(e, name))?;
        self.identity_info(row).await
    }

    /// Deletes the identity with its variables and tokens (which stop working at once).
    pub async fn delete_identity(&self, p: &Principal, ctx: &RequestContext, name: &str) -> CoreResult<()> {
        authorize(p, Permission::ManageMachineAccess)?;
        let row = self.identity_row(p, name).await?;
        let record = self.identity_audit(p, ctx, AuditAction::IdentityDelete, &row.name, json!({}));
        self.store
            .delete_identity(p.workspace_id(), &row.id, record)
            .await
            .map_err(|e| identity_error(e, name))
    }

    /// Sets one of the identity's own variables. Keys follow the secret-name rule, so every key is
    /// a valid environment variable name; values are not secret (use a secret for that).
    pub async fn set_identity_env(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        key: &str,
        value: &str,
    ) -> CoreResult<IdentityInfo> {
        authorize(p, Permission::ManageMachineAccess)?;
        let row = self.identity_row(p, name).await?;
        let key = SecretName::parse(key)
            .map_err(|e| CoreError::invalid(codes::IDENTITY_ENV_INVALID, e.message.replacen("name", "key", 1)))?;
        if value.chars().count() > 4096 || value.contains('\0') {
            return Err(CoreError::invalid(
                codes::IDENTITY_ENV_INVALID,
                "value: at most 4096 characters, without NUL characters",
            ));
        }
        let record = self.identity_audit(
            p,
            ctx,
            AuditAction::IdentityEnvSet,
            &row.name,
            json!({ "key": key.as_str() }),
        );
        self.store
            .set_identity_env(p.workspace_id(), &row.id, key.as_str(), value, record)
            .await
            .map_err(|e| identity_error(e, name))?;
        self.identity_info(row).await
    }

    pub async fn unset_identity_env(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        key: &str,
    ) -> CoreResult<IdentityInfo> {
        authorize(p, Permission::ManageMachineAccess)?;
        let row = self.identity_row(p, name).await?;
        let record = self.identity_audit(p, ctx, AuditAction::IdentityEnvUnset, &row.name, json!({ "key": key }));
        match self
            .store
            .unset_identity_env(p.workspace_id(), &row.id, key, record)
            .await
        {
            Ok(()) => self.identity_info(row).await,
            Err(StoreError::NotFound) => Err(CoreError::not_found(
                codes::IDENTITY_ENV_NOT_FOUND,
                format!(
                    "identity {} has no variable {}",
                    row.name,
                    validate::quote_for_message(key)
                ),
            )),
            Err(e) => Err(e.into()),
        }
    }

    // ---- identity tokens ----

    pub async fn create_identity_token(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        token_name: &str,
        expires_in_seconds: Option<u64>,
    ) -> CoreResult<CreatedToken> {
        authorize(p, Permission::ManageMachineAccess)?;
        let identity = self.identity_row(p, name).await?;
        let token_name = validate::token_name(token_name)?;
        let expires_at = self.token_expiry(p.workspace_id(), expires_in_seconds).await?;
        let owner = TokenOwner::Identity(&identity.id);
        let (token, row) = self.new_token(p.workspace_id(), owner, TokenKind::Identity, &token_name, expires_at);
        let info = token_info(&row, self.now());
        let record = self.identity_audit(
            p,
            ctx,
            AuditAction::IdentityTokenCreate,
            &identity.name,
            json!({ "token_id": row.id, "name": token_name, "expires_at": info.expires_at }),
        );
        self.store.insert_token(row, record).await?;
        Ok(CreatedToken {
            // EXPOSE: a new token is shown to the admin who made it exactly once.
            token: token.expose_secret().to_owned(),
            info,
        })
    }

    pub async fn list_identity_tokens(&self, p: &Principal, name: &str) -> CoreResult<Vec<TokenInfo>> {
        authorize(p, Permission::ManageMachineAccess)?;
        let identity = self.identity_row(p, name).await?;
        let rows = self.store.list_identity_tokens(p.workspace_id(), &identity.id).await?;
        let now = self.now();
        Ok(rows.iter().map(|row| token_info(row, now)).collect())
    }

    /// Revokes one of the identity's tokens by its id.
    pub async fn revoke_identity_token(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        token_id: &str,
    ) -> CoreResult<()> {
        authorize(p, Permission::ManageMachineAccess)?;
        let identity = self.identity_row(p, name).await?;
        let not_found = || {
            CoreError::not_found(
                codes::TOKEN_NOT_FOUND,
                format!("identity {} has no token with that id", identity.name),
            )
        };
        if !is_token_id(token_id) {
            return Err(not_found());
        }
        self.revoke_token_of_identity(p, ctx, &identity, token_id, json!({ "token_id": token_id }), not_found)
            .await
    }

    /// Revokes one of the identity's tokens given the token itself (a leaked one, pasted). A
    /// token of another identity or workspace, already revoked or unknown is "not found" alike.
    pub async fn revoke_identity_token_by_value(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        token: &str,
    ) -> CoreResult<()> {
        authorize(p, Permission::ManageMachineAccess)?;
        let identity = self.identity_row(p, name).await?;
        let not_found = || {
            CoreError::not_found(
                codes::TOKEN_NOT_FOUND,
                format!("that is not a live token of identity {}", identity.name),
            )
        };
        let owner = TokenOwner::Identity(&identity.id);
        let Some(token_id) = self.token_id_by_value(p.workspace_id(), owner, token).await? else {
            return Err(not_found());
        };
        let detail = json!({ "token_id": token_id, "by": "value" });
        self.revoke_token_of_identity(p, ctx, &identity, &token_id, detail, not_found)
            .await
    }

    async fn revoke_token_of_identity(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        identity: &IdentityRow,
        token_id: &str,
        detail: serde_json::Value,
        not_found: impl Fn() -> CoreError,
    ) -> CoreResult<()> {
        let record = self.identity_audit(p, ctx, AuditAction::IdentityTokenRevoke, &identity.name, detail);
        match self
            .store
            .revoke_identity_token(p.workspace_id(), &identity.id, token_id, self.now(), record)
            .await
        {
            Err(StoreError::NotFound) => Err(not_found()),
            other => Ok(other?),
        }
    }

    /// Turns an identity token's rows into the identity acting.
    pub(crate) fn identity_actor(row: &IdentityRow) -> CoreResult<IdentityActor> {
        Ok(IdentityActor {
            id: row.id.clone(),
            name: row.name.clone(),
            tags: parse_map(&row.tags)?,
        })
    }

    pub(crate) async fn identity_row(&self, p: &Principal, name: &str) -> CoreResult<IdentityRow> {
        self.store
            .identity_by_name(p.workspace_id(), name)
            .await?
            .ok_or_else(|| {
                CoreError::not_found(
                    codes::IDENTITY_NOT_FOUND,
                    format!(
                        "no identity named {} in this workspace",
                        validate::quote_for_message(name)
                    ),
                )
            })
    }

    async fn identity_info(&self, row: IdentityRow) -> CoreResult<IdentityInfo> {
        let env = self.store.identity_env(&row.id).await?.into_iter().collect();
        Ok(IdentityInfo {
            tags: parse_map(&row.tags)?,
            name: row.name,
            env,
            created_at: format_ms(row.created_at),
            created_by: row.created_by,
        })
    }

    pub(crate) fn identity_audit(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        action: AuditAction,
        name: &str,
        detail: serde_json::Value,
    ) -> sealbox_store::AuditRecord {
        self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            action,
            format!("identity:{name}"),
            Outcome::Success,
            detail,
        )
    }
}

pub(crate) fn identity_error(e: StoreError, name: &str) -> CoreError {
    match e {
        StoreError::NotFound => CoreError::not_found(
            codes::IDENTITY_NOT_FOUND,
            format!("identity {} was deleted meanwhile", validate::quote_for_message(name)),
        ),
        other => other.into(),
    }
}
