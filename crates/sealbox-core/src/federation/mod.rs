//! Federated machine identities: an identity trusts a platform's JWTs (issuer, audience, claims),
//! and a workload exchanges such a JWT for a short-lived identity token (`exchange_jwt`), so no
//! static token needs to exist. Verification is in `jwt.rs` (the `jsonwebtoken` crate), the
//! issuers' keys in `keys.rs` (fetched through the [`IssuerKeys`] port, cached, or static).

mod jwt;
mod keys;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use sealbox_crypto::{ExposeSecret, SecretString};
use sealbox_store::{FederationRow, IdentityRow, StoreError, WorkspaceRow};
use sealbox_types::{CreateFederationRequest, FederationInfo, JwtExchangeResponse, codes};
use serde_json::json;

pub use jwt::CLOCK_SKEW_SECONDS;
pub use keys::IssuerKeys;
pub(crate) use keys::KeyCache;

use crate::audit::{AuditAction, Outcome};
use crate::clock::format_ms;
use crate::error::{CoreError, CoreResult};
use crate::identities::identity_error;
use crate::principal::{Permission, Principal, RequestContext, authorize};
use crate::tokens::{MAX_TOKEN_TTL_SECONDS, MIN_TOKEN_TTL_SECONDS, TokenKind, TokenOwner};
use crate::validate;
use crate::{Sealbox, json_text, new_id};

/// An exchanged token's lifetime when the trust does not say.
pub const DEFAULT_EXCHANGE_TTL_SECONDS: u64 = 3600;
const MAX_CLAIMS: usize = 20;
const MAX_STATIC_KEYS_BYTES: usize = 64 * 1024;
/// Refused exchanges audited per workspace per minute (per process); the rest are only counted
/// in the log, so anyone holding a junk JWT cannot grow the audit log without bound.
const REFUSALS_AUDITED_PER_MINUTE: u32 = 20;

/// Counts refusals audited per workspace in the current minute.
#[derive(Default)]
pub(crate) struct RefusalBudget {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RefusalBudget {
    fn take(&self, workspace_id: &str, now: i64) -> bool {
        let Ok(mut windows) = self.windows.lock() else {
            return false;
        };
        let minute = now.div_euclid(60_000);
        if windows.len() > 10_000 {
            windows.retain(|_, (m, _)| *m == minute);
        }
        let slot = windows.entry(workspace_id.to_owned()).or_insert((minute, 0));
        if slot.0 != minute {
            *slot = (minute, 0);
        }
        slot.1 += 1;
        slot.1 <= REFUSALS_AUDITED_PER_MINUTE
    }
}

impl Sealbox {
    /// Lets the identity trust JWTs of an issuer (owners and admins).
    pub async fn create_federation(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        identity: &str,
        req: &CreateFederationRequest,
    ) -> CoreResult<FederationInfo> {
        authorize(p, Permission::ManageMachineAccess)?;
        let identity = self.identity_row(p, identity).await?;
        let invalid = |m: String| CoreError::invalid(codes::FEDERATION_INVALID, m);
        let issuer = req.issuer.trim();
        if issuer.is_empty() || issuer.len() > 512 || issuer.chars().any(char::is_control) {
            return Err(invalid(
                "issuer: give the issuer's URL exactly as its tokens' iss claim says (1 to 512 characters)".into(),
            ));
        }
        if req.static_keys.is_none() {
            let url = url::Url::parse(issuer).map_err(|_| {
                invalid(format!(
                    "issuer: {} is not a URL; without --jwks-file the keys are fetched from the issuer's https URL",
                    validate::quote_for_message(issuer)
                ))
            })?;
            if url.scheme() != "https" || url.query().is_some() || url.fragment().is_some() {
                return Err(invalid(
                    "issuer: must be an https URL without query or fragment (its /.well-known/openid-configuration names the keys); for an issuer the server cannot reach, give its keys with --jwks-file".into(),
                ));
            }
        }
        let audience = req.audience.trim();
        if audience.is_empty() || audience.len() > 512 || audience.chars().any(char::is_control) {
            return Err(invalid("audience: 1 to 512 characters, the token's aud".into()));
        }
        if req.claims.len() > MAX_CLAIMS {
            return Err(invalid(format!("claims: at most {MAX_CLAIMS}")));
        }
        for (name, pattern) in &req.claims {
            if name.is_empty() || name.len() > 128 || name.chars().any(|c| c.is_control() || c == '=') {
                return Err(invalid(format!(
                    "claim {}: a claim name of 1 to 128 characters without '='",
                    validate::quote_for_message(name)
                )));
            }
            if ["iss", "aud", "exp", "nbf", "iat"].contains(&name.as_str()) {
                return Err(invalid(format!(
                    "claim {name}: checked by the trust itself (issuer, audience, times); match other claims such as sub"
                )));
            }
            if pattern.is_empty() || pattern.len() > 512 || pattern.chars().any(char::is_control) {
                return Err(invalid(format!(
                    "claim {name}: the value must be 1 to 512 characters (exact, or with * globs)"
                )));
            }
        }
        if let Some(ttl) = req.ttl_seconds
            && !(MIN_TOKEN_TTL_SECONDS..=MAX_TOKEN_TTL_SECONDS).contains(&ttl)
        {
            return Err(invalid("ttl_seconds: must be from 60 seconds to 10 years".into()));
        }
        let static_keys = match &req.static_keys {
            Some(text) => Some(static_jwks(text).map_err(|e| invalid(format!("static_keys: {e}")))?),
            None => None,
        };
        let row = FederationRow {
            id: new_id(),
            workspace_id: p.workspace_id().to_owned(),
            identity_id: identity.id.clone(),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            claims: json_text(&req.claims)?,
            ttl_seconds: req.ttl_seconds.map(|s| s as i64),
            static_keys,
            created_at: self.now(),
            created_by: p.label(),
        };
        let record = self.identity_audit(
            p,
            ctx,
            AuditAction::IdentityFederate,
            &identity.name,
            json!({
                "federation": row.id,
                "issuer": row.issuer,
                "audience": row.audience,
                "claims": req.claims,
                "ttl_seconds": req.ttl_seconds,
                "keys": if row.static_keys.is_some() { "static" } else { "discovery" },
            }),
        );
        self.store
            .insert_federation(row.clone(), record)
            .await
            .map_err(|e| identity_error(e, &identity.name))?;
        federation_info(&identity.name, &row)
    }

    pub async fn list_federations(&self, p: &Principal, identity: &str) -> CoreResult<Vec<FederationInfo>> {
        authorize(p, Permission::ManageMachineAccess)?;
        let identity = self.identity_row(p, identity).await?;
        let rows = self.store.list_federations(p.workspace_id(), &identity.id).await?;
        rows.iter().map(|row| federation_info(&identity.name, row)).collect()
    }

    pub async fn delete_federation(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        identity: &str,
        id: &str,
    ) -> CoreResult<()> {
        authorize(p, Permission::ManageMachineAccess)?;
        let identity = self.identity_row(p, identity).await?;
        let not_found = || {
            CoreError::not_found(
                codes::FEDERATION_NOT_FOUND,
                format!(
                    "identity {} has no trust with that id; `sealbox identity federation list {}` shows them",
                    identity.name, identity.name
                ),
            )
        };
        if !crate::tokens::is_token_id(id) {
            return Err(not_found());
        }
        let record = self.identity_audit(
            p,
            ctx,
            AuditAction::IdentityFederationRemove,
            &identity.name,
            json!({ "federation": id }),
        );
        match self
            .store
            .delete_federation(p.workspace_id(), &identity.id, id, record)
            .await
        {
            Err(StoreError::NotFound) => Err(not_found()),
            other => Ok(other?),
        }
    }

    /// Exchanges a platform's JWT for a short-lived token of `identity` in `workspace`: the
    /// identity must trust the token's issuer, and the token verify under that trust (signature,
    /// times, audience, claims). Every exchange is audited with the issuer and subject; refusals
    /// in a known workspace too, up to a bound per minute. The token is never logged or audited.
    pub async fn exchange_jwt(
        &self,
        ctx: &RequestContext,
        workspace: &str,
        identity: &str,
        jwt: SecretString,
    ) -> CoreResult<JwtExchangeResponse> {
        // EXPOSE: parsed and verified here; never stored, logged or put in an error.
        let jwt = jwt.expose_secret();
        let found = self.exchange_parties(workspace, identity).await?;
        let peeked = jwt::peek(jwt);
        let result = match (&peeked, &found) {
            (Err(e), _) => Err(e.clone()),
            (Ok(token), Some((ws, ident))) => self.verify_for(jwt, token, ws, ident).await,
            (Ok(_), None) => Err(untrusted()),
        };
        let (issuer, subject) = match &peeked {
            Ok(t) => (t.issuer.clone(), t.subject.clone()),
            Err(_) => (None, None),
        };
        match result {
            Ok((trust, ws, ident)) => self.issue_exchanged(ctx, &ws, &ident, &trust, issuer, subject).await,
            Err(refusal) => {
                if let Some((ws, _)) = &found {
                    self.audit_refused_exchange(ctx, ws, identity, &refusal, issuer, subject)
                        .await?;
                } else if let Ok(Some(ws)) = self.workspace_for_audit(workspace).await {
                    self.audit_refused_exchange(ctx, &ws, identity, &refusal, issuer, subject)
                        .await?;
                }
                Err(refusal)
            }
        }
    }

    async fn workspace_for_audit(&self, workspace: &str) -> CoreResult<Option<WorkspaceRow>> {
        match validate::workspace_name(workspace) {
            Ok(name) => Ok(self.store.workspace_by_name(&name).await?),
            Err(_) => Ok(None),
        }
    }

    /// The workspace and identity named, when both exist.
    async fn exchange_parties(
        &self,
        workspace: &str,
        identity: &str,
    ) -> CoreResult<Option<(WorkspaceRow, IdentityRow)>> {
        let Some(ws) = self.workspace_for_audit(workspace).await? else {
            return Ok(None);
        };
        // A name no identity can have is not looked up (nor sent to the database).
        if validate::object_name(codes::IDENTITY_NAME_INVALID, "identity", identity).is_err() {
            return Ok(None);
        }
        Ok(self
            .store
            .identity_by_name(&ws.id, identity)
            .await?
            .map(|ident| (ws, ident)))
    }

    /// Verifies `jwt` under each of the identity's trusts for its issuer; the first that takes it
    /// wins, else the first trust's refusal.
    async fn verify_for(
        &self,
        jwt: &str,
        token: &jwt::Unverified,
        ws: &WorkspaceRow,
        ident: &IdentityRow,
    ) -> CoreResult<(FederationRow, WorkspaceRow, IdentityRow)> {
        let Some(issuer) = &token.issuer else {
            return Err(untrusted());
        };
        let trusts: Vec<FederationRow> = self
            .store
            .list_federations(&ws.id, &ident.id)
            .await?
            .into_iter()
            .filter(|t| &t.issuer == issuer)
            .collect();
        let mut first_refusal = None;
        for trust in trusts {
            match self.verify_under(jwt, token, &trust).await {
                Ok(()) => return Ok((trust, ws.clone(), ident.clone())),
                Err(e) => {
                    first_refusal.get_or_insert(e);
                }
            }
        }
        Err(first_refusal.unwrap_or_else(untrusted))
    }

    async fn verify_under(&self, jwt: &str, token: &jwt::Unverified, trust: &FederationRow) -> CoreResult<()> {
        let keys = match &trust.static_keys {
            Some(text) => std::sync::Arc::new(
                keys::parse_jwks(text).map_err(|_| CoreError::internal("a trust's stored keys are invalid"))?,
            ),
            None => {
                self.key_cache
                    .keys(
                        self.issuer_keys.as_deref(),
                        &trust.issuer,
                        token.kid.as_deref(),
                        self.now(),
                    )
                    .await?
            }
        };
        let claims = jwt::verify_signature(jwt, token, &keys)?;
        // The signed issuer is the one the trust was chosen for.
        if claims.get("iss").and_then(|v| v.as_str()) != Some(trust.issuer.as_str()) {
            return Err(untrusted());
        }
        jwt::check_times(&claims, self.now().div_euclid(1000))?;
        jwt::check_audience(&claims, &trust.audience)?;
        let wanted: BTreeMap<String, String> = serde_json::from_str(&trust.claims)
            .map_err(|_| CoreError::internal("a trust's stored claims are invalid"))?;
        jwt::check_claims(&claims, &wanted)
    }

    async fn issue_exchanged(
        &self,
        ctx: &RequestContext,
        ws: &WorkspaceRow,
        ident: &IdentityRow,
        trust: &FederationRow,
        issuer: Option<String>,
        subject: Option<String>,
    ) -> CoreResult<JwtExchangeResponse> {
        let asked = trust
            .ttl_seconds
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(DEFAULT_EXCHANGE_TTL_SECONDS);
        let max = self.token_lifetimes(&ws.id).await?.max_seconds;
        let ttl = max.map_or(asked, |max| asked.min(max));
        let expires_at = self.now() + (ttl as i64) * 1000;
        let (token, row) = self.new_token(
            &ws.id,
            TokenOwner::Identity(&ident.id),
            TokenKind::Federated,
            "federated",
            Some(expires_at),
        );
        let record = self.audit_record(
            &ws.id,
            format!("identity:{}", ident.name),
            ctx,
            AuditAction::AuthJwtExchange,
            format!("identity:{}", ident.name),
            Outcome::Success,
            json!({
                "issuer": issuer,
                "subject": subject,
                "federation": trust.id,
                "token_id": row.id,
                "expires_at": format_ms(expires_at),
            }),
        );
        self.store.insert_token(row, record).await?;
        Ok(JwtExchangeResponse {
            // EXPOSE: the new token goes to the workload that proved itself, this once.
            token: token.expose_secret().to_owned(),
            expires_at: format_ms(expires_at),
            workspace: ws.name.clone(),
            identity: ident.name.clone(),
        })
    }

    /// Deletes exchanged tokens that expired more than a day ago: one is made per exchange (a CI
    /// job, a pod start), so they would pile up. Bookkeeping, not audited (each was audited when
    /// exchanged, and an expired token is refused anyway). Returns how many went.
    pub async fn sweep_expired_exchanged_tokens(&self) -> CoreResult<u64> {
        const KEPT_AFTER_EXPIRY_MS: i64 = 24 * 60 * 60 * 1000;
        Ok(self
            .store
            .delete_expired_tokens(TokenKind::Federated.as_str(), self.now() - KEPT_AFTER_EXPIRY_MS)
            .await?)
    }

    async fn audit_refused_exchange(
        &self,
        ctx: &RequestContext,
        ws: &WorkspaceRow,
        identity: &str,
        refusal: &CoreError,
        issuer: Option<String>,
        subject: Option<String>,
    ) -> CoreResult<()> {
        if !self.jwt_refusals.take(&ws.id, self.now()) {
            tracing::info!(workspace = %ws.name, code = refusal.code, "JWT exchange refused (not audited: over the per-minute bound)");
            return Ok(());
        }
        let shorten = |s: Option<String>| s.map(|s| s.chars().take(200).collect::<String>());
        let target = if validate::object_name(codes::IDENTITY_NAME_INVALID, "identity", identity).is_err() {
            "identity:(invalid)".to_owned()
        } else {
            format!("identity:{identity}")
        };
        let record = self.audit_record(
            &ws.id,
            "anonymous".into(),
            ctx,
            AuditAction::AuthJwtExchange,
            target,
            Outcome::Denied,
            json!({
                "reason": refusal.code,
                // As the refused token claims them, unverified.
                "issuer": shorten(issuer),
                "subject": shorten(subject),
            }),
        );
        self.store.append_audit(record).await?;
        Ok(())
    }
}

fn untrusted() -> CoreError {
    CoreError::unauthenticated(
        codes::AUTH_JWT_ISSUER_UNTRUSTED,
        "no trust takes this token: the workspace has no such identity, or the identity does not trust the token's issuer (iss); `sealbox identity federation list NAME` shows its trusts",
    )
}

fn federation_info(identity: &str, row: &FederationRow) -> CoreResult<FederationInfo> {
    Ok(FederationInfo {
        id: row.id.clone(),
        identity: identity.to_owned(),
        issuer: row.issuer.clone(),
        audience: row.audience.clone(),
        claims: serde_json::from_str(&row.claims)
            .map_err(|_| CoreError::internal("a trust's stored claims are invalid"))?,
        ttl_seconds: row
            .ttl_seconds
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(DEFAULT_EXCHANGE_TTL_SECONDS),
        keys: if row.static_keys.is_some() {
            "static"
        } else {
            "discovery"
        }
        .to_owned(),
        created_at: format_ms(row.created_at),
        created_by: row.created_by.clone(),
    })
}

/// Static keys as given (a JWKS, or PEM public keys: RSA for RS256, P-256 for ES256, Ed25519 for
/// EdDSA) as the JWKS stored with the trust. Private keys are refused.
fn static_jwks(text: &str) -> Result<String, String> {
    if text.len() > MAX_STATIC_KEYS_BYTES {
        return Err(format!("at most {} KiB", MAX_STATIC_KEYS_BYTES / 1024));
    }
    let trimmed = text.trim_start();
    let set = if trimmed.starts_with('{') {
        keys::parse_jwks(trimmed)?
    } else if trimmed.starts_with("-----BEGIN") {
        if text.contains("PRIVATE KEY") {
            return Err("the PEM holds a private key; give the issuer's public keys only".into());
        }
        let mut keys = Vec::new();
        for block in text.split("-----BEGIN").skip(1) {
            let pem = format!("-----BEGIN{block}");
            keys.push(pem_jwk(pem.trim().as_bytes())?);
        }
        JwkSet { keys }
    } else {
        return Err("not a JWKS (JSON with a \"keys\" array) nor PEM public keys".into());
    };
    if set.keys.is_empty() {
        return Err("no RSA, P-256 or Ed25519 public key in it".into());
    }
    serde_json::to_string(&set).map_err(|e| e.to_string())
}

/// Reads a PEM public key of one kind.
type PemReader = fn(&[u8]) -> jsonwebtoken::errors::Result<DecodingKey>;

fn pem_jwk(pem: &[u8]) -> Result<Jwk, String> {
    let attempts: [(PemReader, Algorithm); 3] = [
        (DecodingKey::from_rsa_pem, Algorithm::RS256),
        (DecodingKey::from_ec_pem, Algorithm::ES256),
        (DecodingKey::from_ed_pem, Algorithm::EdDSA),
    ];
    for (parse, alg) in attempts {
        if let Ok(key) = parse(pem)
            && let Ok(jwk) = Jwk::from_decoding_key(&key, Some(alg))
        {
            return Ok(jwk);
        }
    }
    Err("a PEM block is not an RSA, P-256 or Ed25519 public key".into())
}
