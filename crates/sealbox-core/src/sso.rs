//! Single sign-on with OpenID Connect: a workspace's sign-in rules, and the sign-in itself once
//! the provider's answer is verified.
//!
//! Core does not talk to the provider and verifies no token: the server (`sealbox-server`'s
//! `oidc.rs`, with the `openidconnect` crate) sends the person to the provider with what
//! [`Sealbox::sso_begin`] gives it, exchanges the code, verifies the ID token, and hands the
//! verified claims to [`Sealbox::sso_complete`], which decides who that is here: a member matched
//! by verified e-mail, created when the workspace allows it, given the role its groups map to.
//!
//! Each sign-in in progress is one `sso_logins` row, taken (deleted) when the provider sends the
//! person back, so a `state` works once and on any replica. The row's id is a keyed hash of the
//! `state`; the `nonce` and the PKCE verifier are derived from the `state` with the same key
//! (`TokenHasher::derive`), so nothing the database holds lets anyone finish a sign-in.
//! `sealbox login --sso` adds a second hop: the browser is sent to the terminal's loopback
//! address with a one-time code, which the terminal trades, with the verifier of the challenge it
//! began with, for a session ([`Sealbox::sso_redeem`]).

use std::collections::BTreeMap;

use sealbox_crypto::{self as crypto, ExposeSecret, SecretString};
use sealbox_store::{MemberRow, SsoLoginRow, SsoSettingsRow, StoreError, WorkspaceRow};
use sealbox_types::{CreateMembers, LoginResponse, Role, SsoSettings, UpdateSsoSettingsRequest, codes};
use serde_json::{Value, json};

use crate::audit::{AuditAction, Outcome};
use crate::error::{CoreError, CoreResult, ErrorClass};
use crate::principal::{Permission, Principal, RequestContext, authorize};
use crate::{Sealbox, new_id, validate};

/// How long a person has to sign in at the provider.
pub const SSO_START_TTL_MS: i64 = 10 * 60 * 1000;
/// How long the terminal has to collect a sign-in the browser finished.
pub const SSO_HANDOFF_TTL_MS: i64 = 60 * 1000;
const STARTED: &str = "started";
const SIGNED_IN: &str = "signed_in";
/// The actor of what single sign-on does by itself (creating a member, mapping a group to a role).
const SSO_ACTOR: &str = "system:sso";
const MAX_GROUP_ROLES: usize = 100;
/// Single sign-ons one client address may begin per sign-in window (see [`Sealbox::sso_begin`]).
const SSO_BEGINS_PER_CLIENT: i64 = 60;
const MAX_GROUP_CHARS: usize = 256;

/// Where `sealbox login --sso` waits for the browser, and the challenge of its verifier.
#[derive(Debug, Clone)]
pub struct CliHandoff {
    /// `http://127.0.0.1:PORT/...` or `http://[::1]:PORT/...`.
    pub redirect: String,
    /// PKCE `S256` of the terminal's verifier (43 base64url characters).
    pub challenge: String,
}

/// A sign-in begun: what the authorization request carries. Only the browser keeps the `state`.
pub struct SsoBegun {
    pub state: SecretString,
    pub nonce: SecretString,
    pub pkce_verifier: SecretString,
}

/// A sign-in the provider sent back, taken from the store (so never again).
pub struct SsoPending {
    pub workspace: WorkspaceRow,
    pub nonce: SecretString,
    pub pkce_verifier: SecretString,
    pub cli: Option<CliHandoff>,
}

/// What the provider vouched for, from an ID token the server verified (signature, issuer,
/// audience, expiry, nonce).
#[derive(Debug, Clone)]
pub struct SsoClaims {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    /// The values of the groups claim (empty when the provider sent none).
    pub groups: Vec<String>,
}

/// Why the provider's answer was not accepted (the server logs the detail).
#[derive(Debug, Clone)]
pub struct SsoProviderRefusal {
    /// A short, fixed reason for the audit event: `provider_error`, `code_exchange_failed`,
    /// `id_token_invalid` ...
    pub reason: &'static str,
}

/// A finished sign-in: a session for the browser, or a one-time code for the terminal.
pub enum SsoSignedIn {
    Session(LoginResponse),
    Terminal { redirect: String, code: SecretString },
}

impl Sealbox {
    fn sso_id(&self, kind: &str, value: &str) -> Vec<u8> {
        self.token_hasher.hash(&format!("sso {kind}:{value}"))
    }

    /// Starts a sign-in to `workspace` (`default` when absent). Refused when the server has no
    /// single sign-on, for a workspace that does not exist, and for a `cli` redirect that is not
    /// a loopback address.
    pub async fn sso_begin(
        &self,
        ctx: &RequestContext,
        workspace: Option<&str>,
        cli: Option<CliHandoff>,
    ) -> CoreResult<SsoBegun> {
        if !self.config.sso_enabled {
            return Err(not_configured());
        }
        // Each begin stores a row before anyone signed in: at most SSO_BEGINS_PER_CLIENT per
        // client address and sign-in window, so nobody can fill the table.
        let now = self.now();
        let window = self.config.login_window_ms;
        let window_start = now - now.rem_euclid(window);
        let key = format!("sso_begin:{}", crate::auth::client_limit_key(&ctx.client_addr));
        let counts = self.store.count_login_attempt(&[key], window_start).await?;
        if counts.first().is_some_and(|n| *n > SSO_BEGINS_PER_CLIENT) {
            self.metrics.rate_limited("sso_begin_client");
            let wait = u64::try_from((window_start + window - now).max(1_000) / 1000).unwrap_or(1);
            return Err(CoreError::new(
                ErrorClass::RateLimited,
                codes::AUTH_RATE_LIMITED,
                "too many single sign-ons begun from your address; finish one, or try again later",
            )
            .with_retry_after(wait));
        }
        let name = validate::workspace_name(workspace.unwrap_or("default"))?;
        let ws =
            self.store.workspace_by_name(&name).await?.ok_or_else(|| {
                CoreError::invalid(codes::SSO_REQUEST_INVALID, format!("there is no workspace {name}"))
            })?;
        if let Some(cli) = &cli {
            check_cli_handoff(cli)?;
        }
        let state = crypto::generate_url_token();
        // EXPOSE: the state is hashed and derived from here; only the browser keeps it.
        let state_text = state.expose_secret();
        let row = SsoLoginRow {
            id: self.sso_id("state", state_text),
            workspace_id: ws.id,
            stage: STARTED.into(),
            cli_redirect: cli.as_ref().map(|c| c.redirect.clone()),
            cli_challenge: cli.map(|c| c.challenge),
            member_id: None,
            detail: "{}".into(),
            expires_at: now + SSO_START_TTL_MS,
        };
        self.store.insert_sso_login(row, now).await?;
        Ok(SsoBegun {
            nonce: self.token_hasher.derive("sso nonce", state_text),
            pkce_verifier: self.token_hasher.derive("sso pkce", state_text),
            state,
        })
    }

    /// Takes the sign-in a `state` names, once: a second use, an expired one or a made-up one is
    /// refused with `sso.state_invalid`.
    pub async fn sso_take(&self, state: &str) -> CoreResult<SsoPending> {
        let row = self
            .store
            .take_sso_login(&self.sso_id("state", state), STARTED, self.now())
            .await?
            .ok_or_else(state_invalid)?;
        let workspace = self
            .store
            .workspace_by_id(&row.workspace_id)
            .await?
            .ok_or_else(state_invalid)?;
        let cli = match (row.cli_redirect, row.cli_challenge) {
            (Some(redirect), Some(challenge)) => Some(CliHandoff { redirect, challenge }),
            _ => None,
        };
        Ok(SsoPending {
            workspace,
            nonce: self.token_hasher.derive("sso nonce", state),
            pkce_verifier: self.token_hasher.derive("sso pkce", state),
            cli,
        })
    }

    /// Signs in the person the provider vouched for, or records why not. Counted under the same
    /// limits as password sign-ins (a refusal is a failed attempt from the client), so refusals
    /// cannot grow the audit log without bound.
    pub async fn sso_complete(
        &self,
        ctx: &RequestContext,
        pending: SsoPending,
        verified: Result<SsoClaims, SsoProviderRefusal>,
    ) -> CoreResult<SsoSignedIn> {
        let ws = &pending.workspace;
        let email = verified
            .as_ref()
            .ok()
            .and_then(|c| c.email.as_deref())
            .and_then(|e| validate::email(e).ok());
        let attempt = self.count_login_attempt(ctx, Some(ws), email.as_deref()).await?;
        if let Err(refusal) = attempt.within_limits(&self.config) {
            let target = email.as_ref().map(|e| format!("member:{e}"));
            return Err(self.over_limit(ctx, Some(ws), &attempt, refusal, target).await);
        }
        let refuse = |reason: &'static str, claims: Option<&SsoClaims>, target: String| {
            let mut detail = json!({ "method": "sso", "reason": reason });
            if let Some(c) = claims {
                detail["issuer"] = json!(c.issuer);
                detail["subject"] = json!(c.subject);
            }
            self.audit_record(
                &ws.id,
                crate::auth::ANONYMOUS.into(),
                ctx,
                AuditAction::AuthSsoLogin,
                target,
                Outcome::Failure,
                detail,
            )
        };
        let client_target = format!("client:{}", attempt.client);
        let claims = match verified {
            Ok(claims) => claims,
            Err(refusal) => {
                self.store
                    .append_audit(refuse(refusal.reason, None, client_target))
                    .await?;
                self.metrics.login("failure");
                return Err(CoreError::unauthenticated(
                    codes::SSO_PROVIDER_REFUSED,
                    "the identity provider refused the sign-in or its answer did not verify; sign in again",
                ));
            }
        };
        let Some(email) = email.filter(|_| claims.email_verified == Some(true)) else {
            let target = claims
                .email
                .as_deref()
                .and_then(|e| validate::email(e).ok())
                .map_or(client_target, |e| format!("member:{e}"));
            self.store
                .append_audit(refuse("email_unverified", Some(&claims), target))
                .await?;
            self.metrics.login("failure");
            return Err(CoreError::unauthenticated(
                codes::SSO_EMAIL_UNVERIFIED,
                "the identity provider did not say your e-mail address is verified (email_verified), so it cannot \
                 be matched to a member; verify it with the provider and sign in again",
            ));
        };
        let target = format!("member:{email}");
        let settings = self.sso_settings_row(&ws.id).await?;
        let mapped = mapped_role(&parse_group_roles(&settings.group_roles)?, &claims.groups);
        let member = match self.store.member_by_email(&ws.id, &email).await? {
            Some(member) => self.apply_group_role(ctx, ws, member, mapped, &claims).await?,
            None => {
                let create = settings
                    .create_members
                    .as_deref()
                    .and_then(Role::parse)
                    .map(|default| mapped.unwrap_or(default));
                let Some(role) = create else {
                    self.store
                        .append_audit(refuse("not_a_member", Some(&claims), target))
                        .await?;
                    self.metrics.login("failure");
                    return Err(CoreError::new(
                        ErrorClass::Forbidden,
                        codes::SSO_NOT_A_MEMBER,
                        format!(
                            "{email} is not a member of workspace {}; ask an owner or admin to add you (or to let \
                             single sign-on create members)",
                            ws.name
                        ),
                    ));
                };
                self.create_sso_member(ctx, ws, &email, role, &claims).await?
            }
        };
        self.give_back(&attempt).await;
        let detail = json!({ "method": "sso", "issuer": claims.issuer, "subject": claims.subject });
        match pending.cli {
            None => {
                let session = self
                    .start_session(ctx, ws, &member, AuditAction::AuthSsoLogin, detail)
                    .await?;
                self.metrics.login("success");
                Ok(SsoSignedIn::Session(session))
            }
            Some(cli) => {
                let code = crypto::generate_url_token();
                let now = self.now();
                let row = SsoLoginRow {
                    // EXPOSE: hashed; the code itself goes only to the terminal's loopback address.
                    id: self.sso_id("code", code.expose_secret()),
                    workspace_id: ws.id.clone(),
                    stage: SIGNED_IN.into(),
                    cli_redirect: Some(cli.redirect.clone()),
                    cli_challenge: Some(cli.challenge),
                    member_id: Some(member.id),
                    detail: detail.to_string(),
                    expires_at: now + SSO_HANDOFF_TTL_MS,
                };
                self.store.insert_sso_login(row, now).await?;
                Ok(SsoSignedIn::Terminal {
                    redirect: cli.redirect,
                    code,
                })
            }
        }
    }

    /// `sealbox login --sso`'s last step: the one-time code from its loopback address and the
    /// verifier of the challenge it began with, for a session. Once, within a minute.
    pub async fn sso_redeem(&self, ctx: &RequestContext, code: &str, verifier: &str) -> CoreResult<LoginResponse> {
        let row = self
            .store
            .take_sso_login(&self.sso_id("code", code), SIGNED_IN, self.now())
            .await?
            .ok_or_else(state_invalid)?;
        if !row
            .cli_challenge
            .as_deref()
            .is_some_and(|challenge| crypto::pkce_matches(verifier, challenge))
        {
            return Err(state_invalid());
        }
        let ws = self
            .store
            .workspace_by_id(&row.workspace_id)
            .await?
            .ok_or_else(state_invalid)?;
        let member = match &row.member_id {
            Some(id) => self.store.member_by_id(id).await?,
            None => None,
        }
        .filter(|m| m.workspace_id == ws.id)
        .ok_or_else(state_invalid)?;
        let mut detail: Value = serde_json::from_str(&row.detail).unwrap_or_else(|_| json!({}));
        detail["via"] = json!("terminal");
        let session = self
            .start_session(ctx, &ws, &member, AuditAction::AuthSsoLogin, detail)
            .await?;
        self.metrics.login("success");
        Ok(session)
    }

    /// A member whose groups map to another role gets it (audited as `system:sso`); the last
    /// owner keeps the role when a mapping would take it away.
    async fn apply_group_role(
        &self,
        ctx: &RequestContext,
        ws: &WorkspaceRow,
        member: MemberRow,
        mapped: Option<Role>,
        claims: &SsoClaims,
    ) -> CoreResult<MemberRow> {
        let Some(role) = mapped.filter(|r| r.as_str() != member.role) else {
            return Ok(member);
        };
        let record = self.audit_record(
            &ws.id,
            SSO_ACTOR.into(),
            ctx,
            AuditAction::MemberRoleChange,
            format!("member:{}", member.email),
            Outcome::Success,
            json!({ "from": member.role, "to": role, "issuer": claims.issuer, "groups": claims.groups }),
        );
        match self
            .store
            .set_member_role(&ws.id, &member.id, role.as_str(), record)
            .await
        {
            Ok(()) => Ok(MemberRow {
                role: role.as_str().to_owned(),
                ..member
            }),
            Err(StoreError::LastOwner) => {
                tracing::warn!("single sign-on: a group mapping would take the last owner's role away; kept");
                Ok(member)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn create_sso_member(
        &self,
        ctx: &RequestContext,
        ws: &WorkspaceRow,
        email: &str,
        role: Role,
        claims: &SsoClaims,
    ) -> CoreResult<MemberRow> {
        // A password nobody knows: the member signs in with single sign-on until an admin sets one.
        let password_hash = self.hashing.hash(&crypto::generate_password()).await?;
        let row = MemberRow {
            id: new_id(),
            workspace_id: ws.id.clone(),
            email: email.to_owned(),
            password_hash,
            role: role.as_str().to_owned(),
            created_at: self.now(),
        };
        let record = self.audit_record(
            &ws.id,
            SSO_ACTOR.into(),
            ctx,
            AuditAction::MemberAdd,
            format!("member:{email}"),
            Outcome::Success,
            json!({ "role": role, "method": "sso", "issuer": claims.issuer, "subject": claims.subject }),
        );
        match self.store.insert_member(row.clone(), record).await {
            Ok(()) => Ok(row),
            // Two first sign-ins at once: the other one created the member.
            Err(StoreError::Duplicate(_)) => self
                .store
                .member_by_email(&ws.id, email)
                .await?
                .ok_or_else(|| CoreError::internal("a member created at once is missing")),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn sso_settings_row(&self, workspace_id: &str) -> CoreResult<SsoSettingsRow> {
        Ok(self
            .store
            .sso_settings(workspace_id)
            .await?
            .unwrap_or_else(|| SsoSettingsRow::defaults(workspace_id)))
    }

    /// A workspace's single sign-on rules (owners and admins).
    pub async fn sso_settings(&self, p: &Principal) -> CoreResult<SsoSettings> {
        authorize(p, Permission::ManageMembers)?;
        let row = self.sso_settings_row(p.workspace_id()).await?;
        self.settings_view(&row)
    }

    /// Changes a workspace's single sign-on rules (owners and admins; only owners turn password
    /// sign-in on or off, and only on a server with single sign-on).
    pub async fn update_sso_settings(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        req: UpdateSsoSettingsRequest,
    ) -> CoreResult<SsoSettings> {
        authorize(p, Permission::ManageMembers)?;
        let current = self.sso_settings_row(p.workspace_id()).await?;
        let mut row = current.clone();
        let mut changed = serde_json::Map::new();
        if let Some(on) = req.password_sign_in.filter(|on| *on != current.password_sign_in) {
            if p.member()?.role != Role::Owner {
                self.audit_denied(
                    p,
                    ctx,
                    AuditAction::WorkspaceSsoUpdate,
                    format!("workspace:{}", p.workspace_name()),
                )
                .await;
                return Err(CoreError::forbidden(
                    "only an owner may turn password sign-in on or off; ask an owner",
                ));
            }
            if !on && !self.config.sso_enabled {
                return Err(CoreError::invalid(
                    codes::SSO_SETTINGS_INVALID,
                    "password_sign_in: this server has no single sign-on (start it with --oidc-issuer and \
                     --oidc-client-id), so turning passwords off would lock members out; configure single sign-on \
                     and sign in with it first",
                ));
            }
            if !on && !self.signed_in_with_sso(p).await? {
                return Err(CoreError::invalid(
                    codes::SSO_SETTINGS_INVALID,
                    "password_sign_in: sign in to this workspace with single sign-on once first (\"Sign in with \
                     SSO\" or `sealbox login --sso`), so it is known to work before passwords are turned off",
                ));
            }
            row.password_sign_in = on;
            changed.insert("password_sign_in".into(), json!(on));
        }
        if let Some(create) = req.create_members {
            row.create_members = create.role().map(|r| r.as_str().to_owned());
            changed.insert("create_members".into(), json!(create));
        }
        if let Some(groups) = req.group_roles {
            check_group_roles(&groups)?;
            row.group_roles = crate::json_text(&groups)?;
            changed.insert("group_roles".into(), json!(groups));
        }
        if row == current {
            return self.settings_view(&current);
        }
        row.updated_at = self.now();
        let record = self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            AuditAction::WorkspaceSsoUpdate,
            format!("workspace:{}", p.workspace_name()),
            Outcome::Success,
            Value::Object(changed),
        );
        self.store.put_sso_settings(row.clone(), record).await?;
        self.settings_view(&row)
    }

    /// Whether the caller ever signed in to this workspace with single sign-on (its audit log
    /// holds an `auth.sso_login` success by them: a refusal's actor is `anonymous`).
    async fn signed_in_with_sso(&self, p: &Principal) -> CoreResult<bool> {
        let filter = sealbox_store::AuditFilter {
            actor: Some(p.label()),
            action: Some(AuditAction::AuthSsoLogin.as_str().to_owned()),
            newest_first: true,
            limit: 1,
            ..sealbox_store::AuditFilter::default()
        };
        let events = self.store.list_audit(p.workspace_id(), &filter).await?;
        Ok(events.iter().any(|e| e.record.outcome == Outcome::Success.as_str()))
    }

    fn settings_view(&self, row: &SsoSettingsRow) -> CoreResult<SsoSettings> {
        Ok(SsoSettings {
            password_sign_in: row.password_sign_in,
            create_members: match row.create_members.as_deref().and_then(Role::parse) {
                Some(Role::Admin) => CreateMembers::Admin,
                Some(_) => CreateMembers::Editor,
                None => CreateMembers::Off,
            },
            group_roles: parse_group_roles(&row.group_roles)?,
            sso_configured: self.config.sso_enabled,
        })
    }
}

fn not_configured() -> CoreError {
    CoreError::not_found(
        codes::SSO_NOT_CONFIGURED,
        "this server has no single sign-on; sign in with your e-mail and password (an operator enables it with \
         --oidc-issuer and --oidc-client-id)",
    )
}

fn state_invalid() -> CoreError {
    CoreError::unauthenticated(
        codes::SSO_STATE_INVALID,
        "this sign-in is unknown, was used already or has expired; start the sign-in again",
    )
}

/// A loopback redirect per RFC 8252 section 7.3: `http`, an IP literal of the loopback
/// interface, an explicit port; no user, query or fragment (the server adds the code).
fn check_cli_handoff(cli: &CliHandoff) -> CoreResult<()> {
    let bad = |what: &str| CoreError::invalid(codes::SSO_REQUEST_INVALID, what.to_owned());
    let url =
        url::Url::parse(&cli.redirect).map_err(|_| bad("cli_redirect: must be an http://127.0.0.1:PORT/ address"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    if url.scheme() != "http"
        || !loopback
        || url.port().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad(
            "cli_redirect: must be http://127.0.0.1:PORT/PATH or http://[::1]:PORT/PATH (the terminal's loopback \
             address, without query or fragment)",
        ));
    }
    let challenge_ok = cli.challenge.len() == 43
        && cli
            .challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !challenge_ok {
        return Err(bad(
            "cli_challenge: must be the base64url SHA-256 of a verifier (43 characters, PKCE S256)",
        ));
    }
    Ok(())
}

fn check_group_roles(groups: &BTreeMap<String, Role>) -> CoreResult<()> {
    let bad = |what: String| CoreError::invalid(codes::SSO_SETTINGS_INVALID, what);
    if groups.len() > MAX_GROUP_ROLES {
        return Err(bad(format!("group_roles: at most {MAX_GROUP_ROLES} groups")));
    }
    for group in groups.keys() {
        if group.trim().is_empty() || group.chars().count() > MAX_GROUP_CHARS || group.chars().any(char::is_control) {
            return Err(bad(format!(
                "group_roles: a group must be 1 to {MAX_GROUP_CHARS} characters without control characters"
            )));
        }
    }
    Ok(())
}

fn parse_group_roles(text: &str) -> CoreResult<BTreeMap<String, Role>> {
    serde_json::from_str(text).map_err(|_| CoreError::internal("stored group roles are invalid"))
}

fn rank(role: Role) -> u8 {
    match role {
        Role::Owner => 3,
        Role::Admin => 2,
        Role::Editor => 1,
    }
}

/// The highest role any of `groups` maps to.
fn mapped_role(map: &BTreeMap<String, Role>, groups: &[String]) -> Option<Role> {
    groups
        .iter()
        .filter_map(|g| map.get(g).copied())
        .max_by_key(|r| rank(*r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(redirect: &str) -> CliHandoff {
        CliHandoff {
            redirect: redirect.into(),
            challenge: crypto::pkce_challenge("v"),
        }
    }

    #[test]
    fn only_loopback_http_redirects_with_a_port_are_taken() {
        assert!(check_cli_handoff(&cli("http://127.0.0.1:5123/callback")).is_ok());
        assert!(check_cli_handoff(&cli("http://[::1]:5123/callback")).is_ok());
        for bad in [
            "http://localhost:5123/callback",
            "https://127.0.0.1:5123/callback",
            "http://127.0.0.1/callback",
            "http://evil.example:5123/callback",
            "http://127.0.0.1:5123/callback?x=1",
            "http://127.0.0.1:5123/callback#f",
            "http://user@127.0.0.1:5123/callback",
            "http://10.0.0.1:5123/callback",
            "not a url",
        ] {
            let e = check_cli_handoff(&cli(bad)).unwrap_err();
            assert_eq!(e.code, codes::SSO_REQUEST_INVALID, "{bad}");
        }
        let mut short = cli("http://127.0.0.1:5123/callback");
        short.challenge = "abc".into();
        assert!(check_cli_handoff(&short).is_err());
    }

    #[test]
    fn the_highest_mapped_role_wins() {
        let map: BTreeMap<String, Role> = [
            ("devs".to_owned(), Role::Editor),
            ("ops".to_owned(), Role::Admin),
            ("root".to_owned(), Role::Owner),
        ]
        .into();
        let g = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(mapped_role(&map, &g(&["devs", "ops"])), Some(Role::Admin));
        assert_eq!(mapped_role(&map, &g(&["root", "devs"])), Some(Role::Owner));
        assert_eq!(mapped_role(&map, &g(&["other"])), None);
        assert_eq!(mapped_role(&map, &[]), None);
    }
}
