//! Tokens: making one (personal, session or identity), a member's personal access tokens, and
//! finding or revoking a token by its value.

use sealbox_crypto::{self as crypto, ExposeSecret, SecretString};
use sealbox_store::{StoreError, TokenRow};
use sealbox_types::{CreatedToken, TokenInfo, codes};
use serde_json::{Value, json};

use crate::audit::{AuditAction, Outcome};
use crate::clock::format_ms;
use crate::error::{CoreError, CoreResult};
use crate::principal::{Permission, Principal, RequestContext, authorize};
use crate::validate;
use crate::{Sealbox, new_id};

const MAX_TOKEN_TTL_SECONDS: u64 = 10 * 365 * 24 * 60 * 60;

impl Sealbox {
    /// When a token asked to live `expires_in_seconds` expires: 60 seconds to 10 years, or never.
    pub(crate) fn token_expiry(&self, expires_in_seconds: Option<u64>) -> CoreResult<Option<i64>> {
        match expires_in_seconds {
            None => Ok(None),
            Some(s) if (60..=MAX_TOKEN_TTL_SECONDS).contains(&s) => Ok(Some(self.now() + (s as i64) * 1000)),
            Some(_) => Err(CoreError::invalid(
                codes::TOKEN_TTL_INVALID,
                "expires_in_seconds: must be from 60 seconds to 10 years",
            )),
        }
    }

    pub(crate) fn new_token(
        &self,
        workspace_id: &str,
        owner: TokenOwner<'_>,
        kind: TokenKind,
        name: &str,
        expires_at: Option<i64>,
    ) -> (SecretString, TokenRow) {
        let token = crypto::generate_token();
        // EXPOSE: hashed here; only the hash is stored.
        let hash = self.token_hasher.hash(token.expose_secret());
        let row = TokenRow {
            id: new_id(),
            workspace_id: workspace_id.to_owned(),
            kind: kind.as_str().to_owned(),
            member_id: match owner {
                TokenOwner::Member(id) => Some(id.to_owned()),
                TokenOwner::Identity(_) => None,
            },
            identity_id: match owner {
                TokenOwner::Identity(id) => Some(id.to_owned()),
                TokenOwner::Member(_) => None,
            },
            name: name.to_owned(),
            hash,
            created_at: self.now(),
            expires_at,
            revoked_at: None,
            last_used_at: None,
            // EXPOSE: only the first characters, which do not help to guess the rest (see crypto).
            prefix: crypto::token_shown_prefix(token.expose_secret()),
        };
        (token, row)
    }

    pub async fn list_tokens(&self, p: &Principal) -> CoreResult<Vec<TokenInfo>> {
        authorize(p, Permission::ManageOwnTokens)?;
        let rows = self
            .store
            .list_tokens(p.workspace_id(), &p.member()?.id, TokenKind::Personal.as_str())
            .await?;
        Ok(rows.iter().map(token_info).collect())
    }

    pub async fn create_token(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        expires_in_seconds: Option<u64>,
    ) -> CoreResult<CreatedToken> {
        authorize(p, Permission::ManageOwnTokens)?;
        let name = validate::token_name(name)?;
        let expires_at = self.token_expiry(expires_in_seconds)?;
        let (token, row) = self.new_token(
            p.workspace_id(),
            TokenOwner::Member(&p.member()?.id),
            TokenKind::Personal,
            &name,
            expires_at,
        );
        let info = token_info(&row);
        let record = self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            AuditAction::TokenCreate,
            format!("token:{}", row.id),
            Outcome::Success,
            json!({ "name": name, "expires_at": info.expires_at }),
        );
        self.store.insert_token(row, record).await?;
        Ok(CreatedToken {
            // EXPOSE: a new token is shown to its owner exactly once.
            token: token.expose_secret().to_owned(),
            info,
        })
    }

    /// Revokes one of the caller's tokens by its id.
    pub async fn revoke_token(&self, p: &Principal, ctx: &RequestContext, token_id: &str) -> CoreResult<()> {
        authorize(p, Permission::ManageOwnTokens)?;
        let not_found = || {
            CoreError::not_found(
                codes::TOKEN_NOT_FOUND,
                "no token of yours with that id; `sealbox token list` shows them",
            )
        };
        if !is_token_id(token_id) {
            return Err(not_found());
        }
        self.revoke_own_token(p, ctx, token_id, Value::Null, not_found).await
    }

    /// Revokes one of the caller's tokens given the token itself (a leaked one, pasted). A token
    /// of someone else, of another workspace, already revoked or unknown is "not found" alike.
    pub async fn revoke_token_by_value(&self, p: &Principal, ctx: &RequestContext, token: &str) -> CoreResult<()> {
        authorize(p, Permission::ManageOwnTokens)?;
        let not_found = || {
            CoreError::not_found(
                codes::TOKEN_NOT_FOUND,
                "that is not a live token of yours; `sealbox token list` shows them",
            )
        };
        let owner = TokenOwner::Member(&p.member()?.id);
        let Some(token_id) = self.token_id_by_value(p.workspace_id(), owner, token).await? else {
            return Err(not_found());
        };
        self.revoke_own_token(p, ctx, &token_id, json!({ "by": "value" }), not_found)
            .await
    }

    async fn revoke_own_token(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        token_id: &str,
        detail: Value,
        not_found: impl Fn() -> CoreError,
    ) -> CoreResult<()> {
        let record = self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            AuditAction::TokenRevoke,
            format!("token:{token_id}"),
            Outcome::Success,
            detail,
        );
        match self
            .store
            .revoke_token(p.workspace_id(), &p.member()?.id, token_id, self.now(), record)
            .await
        {
            Err(StoreError::NotFound) => Err(not_found()),
            other => Ok(other?),
        }
    }

    /// The id of `token` when it is a token of `owner` in the workspace; `None` when it is
    /// malformed, unknown, or anyone else's (found by the keyed hash, as authentication does).
    pub(crate) async fn token_id_by_value(
        &self,
        workspace_id: &str,
        owner: TokenOwner<'_>,
        token: &str,
    ) -> CoreResult<Option<String>> {
        if !crypto::is_well_formed_token(token) {
            return Ok(None);
        }
        let Some(row) = self.store.token_by_hash(&self.token_hasher.hash(token)).await? else {
            return Ok(None);
        };
        let owned = row.workspace_id == workspace_id
            && match owner {
                TokenOwner::Member(id) => row.member_id.as_deref() == Some(id),
                TokenOwner::Identity(id) => row.identity_id.as_deref() == Some(id),
            };
        Ok(owned.then_some(row.id))
    }
}

/// What a token is for: a member's personal access token, a member's sign-in session (the only
/// kind the panel's cookie takes), or an identity's token. Stored as [`TokenKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Personal,
    Session,
    Identity,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Personal => "personal",
            TokenKind::Session => "session",
            TokenKind::Identity => "identity",
        }
    }

    pub(crate) fn parse(stored: &str) -> Option<Self> {
        [TokenKind::Personal, TokenKind::Session, TokenKind::Identity]
            .into_iter()
            .find(|kind| kind.as_str() == stored)
    }
}

/// Who a new token acts as.
#[derive(Clone, Copy)]
pub(crate) enum TokenOwner<'a> {
    Member(&'a str),
    Identity(&'a str),
}

/// Token ids are 32 hex digits; anything else cannot name a token (and never reaches the database).
pub(crate) fn is_token_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(crate) fn token_info(row: &sealbox_store::TokenRow) -> TokenInfo {
    TokenInfo {
        id: row.id.clone(),
        name: row.name.clone(),
        prefix: row.prefix.clone(),
        created_at: format_ms(row.created_at),
        expires_at: row.expires_at.map(format_ms),
        last_used_at: row.last_used_at.map(format_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_kinds_read_back_what_is_stored() {
        for kind in [TokenKind::Personal, TokenKind::Session, TokenKind::Identity] {
            assert_eq!(TokenKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(TokenKind::parse("Session"), None);
    }
}
