//! Tokens: making one (personal, session or identity), a member's personal access tokens, and
//! finding or revoking a token by its value.

use sealbox_crypto::{self as crypto, ExposeSecret, SecretString};
use sealbox_store::{StoreError, TokenRow};
use sealbox_types::{CreatedToken, TokenInfo, TokenState, codes};
use serde_json::{Value, json};

use crate::audit::{AuditAction, Outcome};
use crate::clock::format_ms;
use crate::error::{CoreError, CoreResult};
use crate::principal::{Permission, Principal, RequestContext, authorize};
use crate::validate;
use crate::{Sealbox, new_id};

pub(crate) const MIN_TOKEN_TTL_SECONDS: u64 = 60;
pub(crate) const MAX_TOKEN_TTL_SECONDS: u64 = 10 * 365 * 24 * 60 * 60;
/// A token that expires within this is listed as `expiring`.
const EXPIRING_SOON_MS: i64 = 7 * 24 * 60 * 60 * 1000;

impl Sealbox {
    /// When a personal or identity token asked to live `expires_in_seconds` (60 seconds to 10
    /// years, or never) expires, under the workspace's lifetimes: without a lifetime it gets the
    /// workspace's default; above the workspace's maximum, or without expiry while there is a
    /// maximum, it is refused with the maximum named.
    pub(crate) async fn token_expiry(
        &self,
        workspace_id: &str,
        expires_in_seconds: Option<u64>,
    ) -> CoreResult<Option<i64>> {
        if let Some(s) = expires_in_seconds
            && !(MIN_TOKEN_TTL_SECONDS..=MAX_TOKEN_TTL_SECONDS).contains(&s)
        {
            return Err(CoreError::invalid(
                codes::TOKEN_TTL_INVALID,
                "expires_in_seconds: must be from 60 seconds to 10 years",
            ));
        }
        let lifetimes = self.token_lifetimes(workspace_id).await?;
        let ttl = expires_in_seconds.or(lifetimes.default_seconds);
        if let Some(max) = lifetimes.max_seconds {
            match ttl {
                None => {
                    return Err(CoreError::invalid(
                        codes::TOKEN_TTL_ABOVE_MAXIMUM,
                        format!(
                            "this workspace's tokens must expire, within {} (its max_token_ttl); give a lifetime such as --ttl {}",
                            human_ttl(max),
                            human_ttl(max)
                        ),
                    ));
                }
                Some(s) if s > max => {
                    return Err(CoreError::invalid(
                        codes::TOKEN_TTL_ABOVE_MAXIMUM,
                        format!(
                            "{} is longer than this workspace's maximum token lifetime, {} (its max_token_ttl); ask for {} or less",
                            human_ttl(s),
                            human_ttl(max),
                            human_ttl(max)
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(ttl.map(|s| self.now() + (s as i64) * 1000))
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
        let now = self.now();
        Ok(rows.iter().map(|row| token_info(row, now)).collect())
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
        let expires_at = self.token_expiry(p.workspace_id(), expires_in_seconds).await?;
        let (token, row) = self.new_token(
            p.workspace_id(),
            TokenOwner::Member(&p.member()?.id),
            TokenKind::Personal,
            &name,
            expires_at,
        );
        let info = token_info(&row, self.now());
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
/// kind the panel's cookie takes), an identity's token, or an identity's token exchanged for a
/// platform's JWT (short-lived; deleted a day after it expired). Stored as [`TokenKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Personal,
    Session,
    Identity,
    Federated,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Personal => "personal",
            TokenKind::Session => "session",
            TokenKind::Identity => "identity",
            TokenKind::Federated => "federated",
        }
    }

    pub(crate) fn parse(stored: &str) -> Option<Self> {
        [
            TokenKind::Personal,
            TokenKind::Session,
            TokenKind::Identity,
            TokenKind::Federated,
        ]
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

/// A token's row as listed, its state as of `now`.
pub(crate) fn token_info(row: &sealbox_store::TokenRow, now: i64) -> TokenInfo {
    let state = match row.expires_at {
        Some(at) if at <= now => TokenState::Expired,
        Some(at) if at - now <= EXPIRING_SOON_MS => TokenState::Expiring,
        _ => TokenState::Active,
    };
    TokenInfo {
        id: row.id.clone(),
        name: row.name.clone(),
        prefix: row.prefix.clone(),
        created_at: format_ms(row.created_at),
        expires_at: row.expires_at.map(format_ms),
        last_used_at: row.last_used_at.map(format_ms),
        state,
    }
}

/// A lifetime as people write it: `90d`, `12h`, `15m`, else seconds (`3601s`).
pub(crate) fn human_ttl(seconds: u64) -> String {
    match seconds {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_as_people_write_them() {
        assert_eq!(human_ttl(90 * 86_400), "90d");
        assert_eq!(human_ttl(7_200), "2h");
        assert_eq!(human_ttl(900), "15m");
        assert_eq!(human_ttl(3_601), "3601s");
    }

    #[test]
    fn a_listed_token_says_whether_it_expired_or_soon_will() {
        let row = |expires_at| sealbox_store::TokenRow {
            id: "i".into(),
            workspace_id: "w".into(),
            kind: "personal".into(),
            member_id: None,
            identity_id: None,
            name: "n".into(),
            hash: vec![],
            created_at: 0,
            expires_at,
            revoked_at: None,
            last_used_at: None,
            prefix: None,
        };
        let now = 1_000_000_000;
        assert_eq!(token_info(&row(None), now).state, TokenState::Active);
        assert_eq!(token_info(&row(Some(now)), now).state, TokenState::Expired);
        assert_eq!(token_info(&row(Some(now + 3_600_000)), now).state, TokenState::Expiring);
        assert_eq!(
            token_info(&row(Some(now + EXPIRING_SOON_MS + 1)), now).state,
            TokenState::Active
        );
    }

    #[test]
    fn token_kinds_read_back_what_is_stored() {
        for kind in [
            TokenKind::Personal,
            TokenKind::Session,
            TokenKind::Identity,
            TokenKind::Federated,
        ] {
            assert_eq!(TokenKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(TokenKind::parse("Session"), None);
    }
}
