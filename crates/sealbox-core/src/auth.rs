//! Authentication: bearer tokens into a `Principal`, password sign-in with its rate limits,
//! sign-out and `whoami`.

use std::net::{IpAddr, Ipv6Addr};

use sealbox_crypto::{self as crypto, ExposeSecret, SecretString};
use sealbox_store::{MemberRow, TokenRow, WorkspaceRow};
use sealbox_types::{LoginResponse, Role, WhoAmI, codes};
use serde_json::{Value, json};

use crate::Sealbox;
use crate::audit::{AuditAction, Outcome};
use crate::clock::format_ms;
use crate::error::{CoreError, CoreResult, ErrorClass};
use crate::principal::{Actor, MemberActor, Principal, RequestContext};
use crate::tokens::{TokenKind, TokenOwner};
use crate::validate;

/// The actor of a sign-in attempt that did not succeed.
pub(crate) const ANONYMOUS: &str = "anonymous";

impl Sealbox {
    /// Turns a bearer token into a principal, or says precisely why not.
    pub async fn authenticate(&self, token: &str) -> CoreResult<Principal> {
        let invalid = invalid_token;
        if !crypto::is_well_formed_token(token) {
            return Err(invalid());
        }
        let hash = self.token_hasher.hash(token);
        if let Some((row, member, workspace)) = self.store.token_with_member(&hash).await? {
            self.check_token(token, &row)?;
            let role = Role::parse(&member.role).ok_or_else(|| CoreError::internal("stored role is unknown"))?;
            let actor = Actor::Member(MemberActor {
                id: member.id,
                email: member.email,
                role,
            });
            return principal(workspace, actor, row);
        }
        if let Some((row, identity, workspace)) = self.store.token_with_identity(&hash).await? {
            self.check_token(token, &row)?;
            let actor = Actor::Identity(Sealbox::identity_actor(&identity)?);
            return principal(workspace, actor, row);
        }
        Err(invalid())
    }

    /// The checks every token passes: the stored hash matches (in constant time), not revoked,
    /// not expired. Records its use at minute granularity, so reads do not turn into writes.
    fn check_token(&self, token: &str, row: &TokenRow) -> CoreResult<()> {
        if !self.token_hasher.matches(token, &row.hash) {
            return Err(invalid_token());
        }
        let now = self.now();
        if row.revoked_at.is_some() {
            return Err(CoreError::unauthenticated(
                codes::AUTH_TOKEN_REVOKED,
                "the token was revoked; use another token or sign in again",
            ));
        }
        if row.expires_at.is_some_and(|at| at <= now) {
            return Err(CoreError::unauthenticated(
                codes::AUTH_TOKEN_EXPIRED,
                "the token has expired; create a new one or sign in again",
            ));
        }
        if row.last_used_at.is_none_or(|at| now - at > 60_000) {
            let store = self.store.clone();
            let id = row.id.clone();
            tokio::spawn(async move {
                if let Err(e) = store.touch_token(&id, now).await {
                    tracing::warn!(error = %e, "could not record token use");
                }
            });
        }
        Ok(())
    }

    pub fn whoami(&self, p: &Principal) -> WhoAmI {
        WhoAmI {
            workspace: p.workspace_name().to_owned(),
            kind: if p.identity().is_some() { "identity" } else { "member" }.into(),
            name: match p.actor() {
                Actor::Member(m) => m.email.clone(),
                Actor::Identity(i) => i.name.clone(),
            },
            role: p.member().ok().map(|m| m.role),
        }
    }

    /// Password login. Every attempt is counted before its password is checked, atomically in
    /// the store (replicas share the counts), under two limits per fixed window of
    /// `login_window_ms`: its client address (any e-mail, any workspace) and its e-mail from that
    /// address. An attempt over either limit is refused without checking its password; the first
    /// one refused in a window is audited as `denied`. A successful sign-in, or one refused
    /// because hashing was busy, is given back, so the limits count failed (and running)
    /// attempts, and wrong passwords from one address never lock the member out elsewhere.
    pub async fn login(
        &self,
        ctx: &RequestContext,
        email: &str,
        password: SecretString,
        workspace: Option<&str>,
    ) -> CoreResult<LoginResponse> {
        let bad_credentials =
            || CoreError::unauthenticated(codes::AUTH_BAD_CREDENTIALS, "e-mail, password or workspace is wrong");
        let workspace_name = validate::workspace_name(workspace.unwrap_or("default")).ok();
        let email = validate::email(email).ok();
        let ws = match (&workspace_name, &email) {
            (Some(name), Some(_)) => self.store.workspace_by_name(name).await?,
            _ => None,
        };
        let member_target = email.as_ref().map(|email| format!("member:{email}"));
        let attempt = self.count_login_attempt(ctx, ws.as_ref(), email.as_deref()).await?;
        if let Err(refusal) = attempt.within_limits(&self.config) {
            return Err(self
                .over_limit(ctx, ws.as_ref(), &attempt, refusal, member_target)
                .await);
        }
        let (Some(ws), Some(email), Some(target)) = (ws, email, member_target) else {
            // The same work as a real check, so a missing workspace or e-mail takes as long.
            if let Err(e) = self.hashing.burn(password).await {
                self.metrics.login("busy");
                self.give_back(&attempt).await;
                return Err(e);
            }
            self.metrics.login("failure");
            return Err(bad_credentials());
        };
        // A workspace that turned passwords off refuses them unchecked, unless the operator
        // started the server with the break-glass switch, and then only for owners (below).
        let passwords_on = self.sso_settings_row(&ws.id).await?.password_sign_in;
        if !passwords_on && !self.config.password_break_glass {
            return Err(self.password_refused(ctx, &ws, target).await);
        }
        let member = self.store.member_by_email(&ws.id, &email).await?;
        let checked = match &member {
            Some(m) => self.hashing.verify(password, m.password_hash.clone()).await,
            None => self.hashing.burn(password).await.map(|()| false),
        };
        let verified = match checked {
            Ok(verified) => verified,
            Err(e) => {
                // Not checked (hashing was busy): the attempt does not count.
                self.metrics.login("busy");
                self.give_back(&attempt).await;
                return Err(e);
            }
        };
        let (Some(member), true) = (member, verified) else {
            // Nobody is signed in yet: the actor is anonymous, the target the e-mail tried.
            let record = self.audit_record(
                &ws.id,
                ANONYMOUS.into(),
                ctx,
                AuditAction::AuthLogin,
                target,
                Outcome::Failure,
                Value::Null,
            );
            self.store.append_audit(record).await?;
            self.metrics.login("failure");
            return Err(bad_credentials());
        };
        let detail = if passwords_on {
            Value::Null
        } else {
            if member.role != Role::Owner.as_str() {
                return Err(self.password_refused(ctx, &ws, target).await);
            }
            tracing::warn!("an owner signed in with a password through the break-glass switch");
            json!({ "break_glass": true })
        };
        self.give_back(&attempt).await;
        let session = self
            .start_session(ctx, &ws, &member, AuditAction::AuthLogin, detail)
            .await?;
        self.metrics.login("success");
        Ok(session)
    }

    /// The refusal of an attempt over a sign-in limit: audited as `denied` once per window (the
    /// first refused), counted in the metrics, with the wait in the message and `Retry-After`.
    pub(crate) async fn over_limit(
        &self,
        ctx: &RequestContext,
        ws: Option<&WorkspaceRow>,
        attempt: &LoginAttempt,
        refusal: LimitRefusal,
        member_target: Option<String>,
    ) -> CoreError {
        if let (Some(ws), true) = (ws, refusal.first_in_window) {
            // One `denied` event per window is enough to see the lockout; recording every
            // refused attempt would let anyone grow the audit log without a token.
            let target = match refusal.limit {
                LoginLimit::Client => format!("client:{}", attempt.client),
                LoginLimit::EmailFromClient => member_target.unwrap_or_default(),
            };
            let record = self.audit_record(
                &ws.id,
                ANONYMOUS.into(),
                ctx,
                AuditAction::AuthLogin,
                target,
                Outcome::Denied,
                json!({"reason": "rate_limited", "limit": refusal.limit.as_str()}),
            );
            if let Err(e) = self.store.append_audit(record).await {
                return e.into();
            }
        }
        self.metrics.login("rate_limited");
        self.metrics.rate_limited(match refusal.limit {
            LoginLimit::Client => "login_client",
            LoginLimit::EmailFromClient => "login_email_from_client",
        });
        let wait = attempt.seconds_left(self.now(), self.config.login_window_ms);
        let message = match refusal.limit {
            LoginLimit::Client => "too many failed sign-ins from your address",
            LoginLimit::EmailFromClient => "too many failed sign-ins for this e-mail from your address",
        };
        CoreError::new(
            ErrorClass::RateLimited,
            codes::AUTH_RATE_LIMITED,
            format!("{message}; try again in {}", minutes(wait)),
        )
        .with_retry_after(wait)
    }

    /// A new session for a member who just proved who they are, with its audit event
    /// (`action`, `detail` plus the token's id) in the same transaction.
    pub(crate) async fn start_session(
        &self,
        ctx: &RequestContext,
        ws: &WorkspaceRow,
        member: &MemberRow,
        action: AuditAction,
        mut detail: Value,
    ) -> CoreResult<LoginResponse> {
        let role = Role::parse(&member.role).ok_or_else(|| CoreError::internal("stored role is unknown"))?;
        let expires_at = self.now() + self.config.session_ttl_ms;
        let (token, row) = self.new_token(
            &ws.id,
            TokenOwner::Member(&member.id),
            TokenKind::Session,
            "session",
            Some(expires_at),
        );
        let target = format!("member:{}", member.email);
        if !detail.is_object() {
            detail = json!({});
        }
        detail["token_id"] = json!(row.id);
        let record = self.audit_record(&ws.id, target.clone(), ctx, action, target, Outcome::Success, detail);
        self.store.insert_token(row, record).await?;
        Ok(LoginResponse {
            // EXPOSE: the session token goes to the person who just proved who they are.
            token: token.expose_secret().to_owned(),
            expires_at: format_ms(expires_at),
            workspace: ws.name.clone(),
            role,
        })
    }

    /// A password sign-in to a workspace that turned passwords off: a failed attempt (so it
    /// counts under the limits), audited with its reason.
    async fn password_refused(&self, ctx: &RequestContext, ws: &WorkspaceRow, target: String) -> CoreError {
        let record = self.audit_record(
            &ws.id,
            ANONYMOUS.into(),
            ctx,
            AuditAction::AuthLogin,
            target,
            Outcome::Failure,
            json!({ "reason": "password_sign_in_off" }),
        );
        if let Err(e) = self.store.append_audit(record).await {
            return e.into();
        }
        self.metrics.login("failure");
        CoreError::new(
            ErrorClass::Forbidden,
            codes::AUTH_PASSWORD_SIGN_IN_OFF,
            format!(
                "workspace {} signs in with single sign-on only; use \"Sign in with SSO\" or `sealbox login --sso`",
                ws.name
            ),
        )
    }

    /// Counts a sign-in attempt under its limits (see [`Sealbox::login`]): its client address, and
    /// its e-mail from that address when the workspace and e-mail exist.
    pub(crate) async fn count_login_attempt(
        &self,
        ctx: &RequestContext,
        ws: Option<&WorkspaceRow>,
        email: Option<&str>,
    ) -> CoreResult<LoginAttempt> {
        let now = self.now();
        let window = self.config.login_window_ms;
        let window_start = now - now.rem_euclid(window);
        let client = client_limit_key(&ctx.client_addr);
        // Always the client first: concurrent attempts lock the rows in one order.
        let mut keys = vec![format!("client:{client}")];
        if let (Some(ws), Some(email)) = (ws, email) {
            keys.push(format!("member:{}:{email}:client:{client}", ws.id));
        }
        let counts = self.store.count_login_attempt(&keys, window_start).await?;
        if counts.first() == Some(&1) {
            // A client's first attempt in this window: delete the counts of windows before the
            // previous one (the previous one is kept in case another replica's clock lags).
            if let Err(e) = self.store.delete_login_attempts_before(window_start - window).await {
                tracing::warn!(error = %e, "could not delete old sign-in attempt counts");
            }
        }
        Ok(LoginAttempt {
            client,
            keys,
            counts,
            window_start,
        })
    }

    /// Takes back an attempt that is not to count (it succeeded, or its password was not checked).
    pub(crate) async fn give_back(&self, attempt: &LoginAttempt) {
        if let Err(e) = self
            .store
            .refund_login_attempt(&attempt.keys, attempt.window_start)
            .await
        {
            tracing::warn!(error = %e, "could not give back a sign-in attempt");
        }
    }

    /// Revokes the calling session token.
    pub async fn logout(&self, p: &Principal, ctx: &RequestContext) -> CoreResult<()> {
        let record = self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            AuditAction::AuthLogout,
            format!("token:{}", p.token_id()),
            Outcome::Success,
            Value::Null,
        );
        self.store
            .revoke_token(p.workspace_id(), &p.member()?.id, p.token_id(), self.now(), record)
            .await?;
        Ok(())
    }
}

/// The principal of a token that passed [`Sealbox::check_token`].
fn principal(workspace: WorkspaceRow, actor: Actor, token: TokenRow) -> CoreResult<Principal> {
    let kind = TokenKind::parse(&token.kind).ok_or_else(|| CoreError::internal("stored token kind is unknown"))?;
    Ok(Principal::authenticated(
        workspace.id,
        workspace.name,
        actor,
        token.id,
        kind,
    ))
}

fn invalid_token() -> CoreError {
    CoreError::unauthenticated(
        codes::AUTH_INVALID_TOKEN,
        "the token is not valid; create a new one with `sealbox token create` or sign in again",
    )
}

/// The sign-in limits (see [`Sealbox::login`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoginLimit {
    /// Attempts from one client address, whatever the e-mail.
    Client,
    /// Attempts for one e-mail from one client address.
    EmailFromClient,
}

impl LoginLimit {
    fn as_str(self) -> &'static str {
        match self {
            LoginLimit::Client => "client",
            LoginLimit::EmailFromClient => "email_from_client",
        }
    }
}

/// A counted sign-in attempt: under which keys, their counts with it, and in which window.
pub(crate) struct LoginAttempt {
    /// The client address as the limits count it (see [`client_limit_key`]).
    pub(crate) client: String,
    keys: Vec<String>,
    counts: Vec<i64>,
    window_start: i64,
}

/// Why an attempt is refused: the limit it is over, and whether it is the first one refused in
/// its window (the one that is audited).
pub(crate) struct LimitRefusal {
    limit: LoginLimit,
    first_in_window: bool,
}

impl LoginAttempt {
    pub(crate) fn within_limits(&self, config: &crate::CoreConfig) -> Result<(), LimitRefusal> {
        let limits = [
            (LoginLimit::Client, config.login_max_failures_per_client),
            (LoginLimit::EmailFromClient, config.login_max_failures),
        ];
        for ((limit, max), count) in limits.into_iter().zip(&self.counts) {
            if *count > max {
                return Err(LimitRefusal {
                    limit,
                    first_in_window: *count == max + 1,
                });
            }
        }
        Ok(())
    }

    /// Seconds until the attempt's window ends (at least 1).
    fn seconds_left(&self, now: i64, window_ms: i64) -> u64 {
        let left_ms = (self.window_start + window_ms - now).max(1);
        u64::try_from((left_ms + 999) / 1000).unwrap_or(1)
    }
}

/// What the sign-in limits count a client address as: an IPv4 address as itself, an IPv6
/// address by its /64 (a single host or site usually holds a whole /64, so counting single
/// addresses would let one client take as many turns as it likes), an IPv4-mapped IPv6 address
/// as the IPv4 address, and anything unparsable as given.
pub(crate) fn client_limit_key(addr: &str) -> String {
    match addr.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
        Err(_) => addr.to_owned(),
    }
}

/// "a minute" or "N minutes", rounded up.
fn minutes(seconds: u64) -> String {
    match seconds.div_ceil(60) {
        0 | 1 => "a minute".to_owned(),
        n => format!("{n} minutes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_counted_by_ipv4_address_and_ipv6_slash_64() {
        assert_eq!(client_limit_key("192.0.2.7"), "192.0.2.7");
        assert_eq!(client_limit_key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(client_limit_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            client_limit_key("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            client_limit_key("2001:db8:1:2::")
        );
        assert_ne!(client_limit_key("2001:db8:1:3::1"), client_limit_key("2001:db8:1:2::1"));
        assert_eq!(client_limit_key("::1"), "::/64");
        assert_eq!(client_limit_key(""), "");
    }

    #[test]
    fn waits_are_told_in_whole_minutes() {
        assert_eq!(minutes(1), "a minute");
        assert_eq!(minutes(60), "a minute");
        assert_eq!(minutes(61), "2 minutes");
        assert_eq!(minutes(900), "15 minutes");
    }
}
