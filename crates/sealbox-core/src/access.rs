//! Authentication, workspaces, members, personal access tokens and the audit log.

use std::net::{IpAddr, Ipv6Addr};

use sealbox_crypto::{self as crypto, ExposeSecret, SecretString};
use sealbox_store::{AuditFilter, MemberRow, StoreError, TokenRow, WorkspaceRow};
use sealbox_types::{
    AddMemberRequest, AddMemberResponse, AuditEvent, AuditList, AuditOrder, AuditQuery, AuditVerifyResponse,
    CreatedToken, LoginResponse, MemberInfo, Role, TokenInfo, WhoAmI, codes,
};
use serde_json::{Value, json};

use crate::clock::{format_ms, parse_ago_ms, parse_rfc3339_ms};
use crate::error::{CoreError, CoreResult, ErrorClass};
use crate::machines::token_info;
use crate::principal::{Actor, MemberActor, Permission, Principal, RequestContext, authorize, authorize_member_change};
use crate::validate;
use crate::{Sealbox, new_id};

/// What the first start hands to the operator (written to a 0600 file by the server).
pub struct BootstrapCredentials {
    pub workspace: String,
    pub email: String,
    pub password: SecretString,
    pub token: SecretString,
}

/// The actor of a sign-in attempt that did not succeed.
const ANONYMOUS: &str = "anonymous";

const MAX_TOKEN_TTL_SECONDS: u64 = 10 * 365 * 24 * 60 * 60;

impl Sealbox {
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
            "personal",
            token_name,
            None,
        );
        let audit = self.audit_record(
            &workspace.id,
            actor,
            ctx,
            "workspace.create",
            format!("workspace:{name}"),
            "success",
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
        kind: &str,
        name: &str,
        expires_at: Option<i64>,
    ) -> (SecretString, TokenRow) {
        let token = crypto::generate_token();
        // EXPOSE: hashed here; only the hash is stored.
        let hash = self.token_hasher.hash(token.expose_secret());
        let row = TokenRow {
            id: new_id(),
            workspace_id: workspace_id.to_owned(),
            kind: kind.to_owned(),
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
            return Ok(Principal {
                workspace_id: workspace.id,
                workspace_name: workspace.name,
                actor: Actor::Member(MemberActor {
                    id: member.id,
                    email: member.email,
                    role,
                }),
                token_id: row.id,
                token_kind: row.kind,
            });
        }
        if let Some((row, identity, workspace)) = self.store.token_with_identity(&hash).await? {
            self.check_token(token, &row)?;
            return Ok(Principal {
                workspace_id: workspace.id,
                workspace_name: workspace.name,
                actor: Actor::Identity(Sealbox::identity_actor(&identity)?),
                token_id: row.id,
                token_kind: row.kind,
            });
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
            workspace: p.workspace_name.clone(),
            kind: if p.identity().is_some() { "identity" } else { "member" }.into(),
            name: match &p.actor {
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
            if let (Some(ws), true) = (&ws, refusal.first_in_window) {
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
                    "auth.login",
                    target,
                    "denied",
                    json!({"reason": "rate_limited", "limit": refusal.limit.as_str()}),
                );
                self.store.append_audit(record).await?;
            }
            let wait = attempt.seconds_left(self.now(), self.config.login_window_ms);
            let message = match refusal.limit {
                LoginLimit::Client => "too many failed sign-ins from your address",
                LoginLimit::EmailFromClient => "too many failed sign-ins for this e-mail from your address",
            };
            return Err(CoreError::new(
                ErrorClass::RateLimited,
                codes::AUTH_RATE_LIMITED,
                format!("{message}; try again in {}", minutes(wait)),
            )
            .with_retry_after(wait));
        }
        let (Some(ws), Some(email), Some(target)) = (ws, email, member_target) else {
            // The same work as a real check, so a missing workspace or e-mail takes as long.
            if let Err(e) = self.hashing.burn(password).await {
                self.give_back(&attempt).await;
                return Err(e);
            }
            return Err(bad_credentials());
        };
        let member = self.store.member_by_email(&ws.id, &email).await?;
        let checked = match &member {
            Some(m) => self.hashing.verify(password, m.password_hash.clone()).await,
            None => self.hashing.burn(password).await.map(|()| false),
        };
        let verified = match checked {
            Ok(verified) => verified,
            Err(e) => {
                // Not checked (hashing was busy): the attempt does not count.
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
                "auth.login",
                target,
                "failure",
                Value::Null,
            );
            self.store.append_audit(record).await?;
            return Err(bad_credentials());
        };
        self.give_back(&attempt).await;
        let role = Role::parse(&member.role).ok_or_else(|| CoreError::internal("stored role is unknown"))?;
        let expires_at = self.now() + self.config.session_ttl_ms;
        let (token, row) = self.new_token(
            &ws.id,
            TokenOwner::Member(&member.id),
            "session",
            "session",
            Some(expires_at),
        );
        let record = self.audit_record(
            &ws.id,
            target.clone(),
            ctx,
            "auth.login",
            target,
            "success",
            json!({ "token_id": row.id }),
        );
        self.store.insert_token(row, Some(record)).await?;
        Ok(LoginResponse {
            // EXPOSE: the session token goes to the person who just proved their password.
            token: token.expose_secret().to_owned(),
            expires_at: format_ms(expires_at),
            workspace: ws.name,
            role,
        })
    }

    /// Counts a sign-in attempt under its limits (see [`Sealbox::login`]): its client address, and
    /// its e-mail from that address when the workspace and e-mail exist.
    async fn count_login_attempt(
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
    async fn give_back(&self, attempt: &LoginAttempt) {
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
            &p.workspace_id,
            p.label(),
            ctx,
            "auth.logout",
            format!("token:{}", p.token_id),
            "success",
            Value::Null,
        );
        self.store
            .revoke_token(&p.workspace_id, &p.member()?.id, &p.token_id, self.now(), record)
            .await?;
        Ok(())
    }

    // ---- members ----

    pub async fn list_members(&self, p: &Principal) -> CoreResult<Vec<MemberInfo>> {
        authorize(p, Permission::ManageMembers)?;
        let members = self.store.list_members(&p.workspace_id).await?;
        members.iter().map(member_info).collect()
    }

    pub async fn add_member(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        req: AddMemberRequest,
    ) -> CoreResult<AddMemberResponse> {
        authorize_member_change(p, None, Some(req.role))?;
        let email = validate::email(&req.email)?;
        let (password, generated) = match req.password {
            Some(pw) => {
                validate::password(&pw)?;
                (SecretString::from(pw), false)
            }
            None => (crypto::generate_password(), true),
        };
        let password_hash = self.hashing.hash(&password).await?;
        let row = MemberRow {
            id: new_id(),
            workspace_id: p.workspace_id.clone(),
            email: email.clone(),
            password_hash,
            role: req.role.as_str().to_owned(),
            created_at: self.now(),
        };
        let info = member_info(&row)?;
        let record = self.audit_record(
            &p.workspace_id,
            p.label(),
            ctx,
            "member.add",
            format!("member:{email}"),
            "success",
            json!({ "role": req.role }),
        );
        match self.store.insert_member(row, record).await {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => {
                return Err(CoreError::conflict(
                    codes::MEMBER_EXISTS,
                    format!("{email} is already a member of this workspace"),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(AddMemberResponse {
            member: info,
            // EXPOSE: a generated password is shown once to the admin who created the member.
            password: generated.then(|| password.expose_secret().to_owned()),
        })
    }

    async fn member_for_change(&self, p: &Principal, email: &str) -> CoreResult<MemberRow> {
        let email = validate::email(email)?;
        self.store
            .member_by_email(&p.workspace_id, &email)
            .await?
            .ok_or_else(|| {
                CoreError::not_found(codes::MEMBER_NOT_FOUND, format!("no member {email} in this workspace"))
            })
    }

    pub async fn set_member_role(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        email: &str,
        role: Role,
    ) -> CoreResult<MemberInfo> {
        authorize(p, Permission::ManageMembers)?;
        let mut member = self.member_for_change(p, email).await?;
        authorize_member_change(p, Role::parse(&member.role), Some(role))?;
        let record = self.audit_record(
            &p.workspace_id,
            p.label(),
            ctx,
            "member.role_change",
            format!("member:{}", member.email),
            "success",
            json!({ "from": member.role, "to": role }),
        );
        self.store
            .set_member_role(&p.workspace_id, &member.id, role.as_str(), record)
            .await
            .map_err(member_store_error)?;
        member.role = role.as_str().to_owned();
        member_info(&member)
    }

    pub async fn remove_member(&self, p: &Principal, ctx: &RequestContext, email: &str) -> CoreResult<()> {
        authorize(p, Permission::ManageMembers)?;
        let member = self.member_for_change(p, email).await?;
        authorize_member_change(p, Role::parse(&member.role), None)?;
        let record = self.audit_record(
            &p.workspace_id,
            p.label(),
            ctx,
            "member.remove",
            format!("member:{}", member.email),
            "success",
            json!({ "role": member.role }),
        );
        self.store
            .delete_member(&p.workspace_id, &member.id, record)
            .await
            .map_err(member_store_error)
    }

    // ---- personal access tokens ----

    pub async fn list_tokens(&self, p: &Principal) -> CoreResult<Vec<TokenInfo>> {
        authorize(p, Permission::ManageOwnTokens)?;
        let rows = self
            .store
            .list_tokens(&p.workspace_id, &p.member()?.id, "personal")
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
            &p.workspace_id,
            TokenOwner::Member(&p.member()?.id),
            "personal",
            &name,
            expires_at,
        );
        let info = token_info(&row);
        let record = self.audit_record(
            &p.workspace_id,
            p.label(),
            ctx,
            "token.create",
            format!("token:{}", row.id),
            "success",
            json!({ "name": name, "expires_at": info.expires_at }),
        );
        self.store.insert_token(row, Some(record)).await?;
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
        let Some(token_id) = self.token_id_by_value(&p.workspace_id, owner, token).await? else {
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
            &p.workspace_id,
            p.label(),
            ctx,
            "token.revoke",
            format!("token:{token_id}"),
            "success",
            detail,
        );
        match self
            .store
            .revoke_token(&p.workspace_id, &p.member()?.id, token_id, self.now(), record)
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

    // ---- audit ----

    /// The events matching `query`, oldest first unless it asks for the newest first.
    pub async fn list_audit(&self, p: &Principal, query: AuditQuery) -> CoreResult<Vec<AuditEvent>> {
        Ok(self.list_audit_page(p, query).await?.events)
    }

    /// One page of events, and whether more match beyond it (one more is fetched to know).
    pub async fn list_audit_page(&self, p: &Principal, query: AuditQuery) -> CoreResult<AuditList> {
        authorize(p, Permission::ReadAudit)?;
        let now = self.now();
        let time = |field: &str, raw: Option<String>| -> CoreResult<Option<i64>> {
            raw.map(|s| {
                parse_rfc3339_ms(&s)
                    .or_else(|| parse_ago_ms(&s).map(|ago| now.saturating_sub(ago)))
                    .ok_or_else(|| {
                        CoreError::invalid(
                            codes::AUDIT_QUERY_INVALID,
                            format!(
                                "{field}: must be an RFC 3339 time like 2026-01-31T12:00:00Z, or a time back \
                                 from now like 30m, 1h, 7d or 2w"
                            ),
                        )
                    })
            })
            .transpose()
        };
        let limit = query.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(CoreError::invalid(codes::AUDIT_QUERY_INVALID, "limit: must be 1-1000"));
        }
        let mut target = validate::filter_text("target", codes::AUDIT_QUERY_INVALID, query.target)?;
        // `secret:NAME` also finds the reads of several secrets at once (an environment, a
        // template) that included NAME.
        let secret = target
            .as_deref()
            .and_then(|t| t.strip_prefix("secret:"))
            .and_then(|name| validate::SecretName::parse(name).ok())
            .map(|name| name.as_str().to_owned());
        if secret.is_some() {
            target = None;
        }
        let seq = |s: u64| s.min(i64::MAX as u64) as i64;
        let filter = AuditFilter {
            since: time("since", query.since)?,
            until: time("until", query.until)?,
            actor: validate::filter_text("actor", codes::AUDIT_QUERY_INVALID, query.actor)?,
            action: validate::filter_text("action", codes::AUDIT_QUERY_INVALID, query.action)?,
            target,
            secret,
            after_seq: query.after.map(seq),
            before_seq: query.before.map(seq),
            newest_first: query.order == Some(AuditOrder::Newest),
            limit: limit as i64 + 1,
        };
        let mut rows = self.store.list_audit(&p.workspace_id, &filter).await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        Ok(AuditList {
            events: rows.into_iter().map(audit_event).collect(),
            more,
        })
    }

    /// Recomputes the workspace's hash chain from the first event and compares it with the
    /// recorded head, so an edited, inserted or removed event (also the last one) is reported.
    pub async fn verify_audit(&self, p: &Principal) -> CoreResult<AuditVerifyResponse> {
        authorize(p, Permission::ReadAudit)?;
        let broken = |checked: u64, seq: i64, problem: String| AuditVerifyResponse {
            ok: false,
            events_checked: checked,
            first_bad_seq: Some(seq.max(0) as u64),
            problem: Some(problem),
        };
        let mut prev_hash = sealbox_store::GENESIS_HASH.to_vec();
        let mut expected_seq = 1_i64;
        let mut checked = 0_u64;
        loop {
            let filter = AuditFilter {
                after_seq: Some(expected_seq - 1),
                limit: 1000,
                ..AuditFilter::default()
            };
            let page = self.store.list_audit(&p.workspace_id, &filter).await?;
            if page.is_empty() {
                break;
            }
            for event in page {
                if event.seq != expected_seq {
                    return Ok(broken(
                        checked,
                        expected_seq,
                        format!("event {expected_seq} is missing"),
                    ));
                }
                if event.prev_hash != prev_hash {
                    return Ok(broken(
                        checked,
                        event.seq,
                        format!("event {} does not link to the event before it", event.seq),
                    ));
                }
                if sealbox_store::chain_hash(&self.chain_key, &prev_hash, event.seq, &event.record) != event.hash {
                    return Ok(broken(
                        checked,
                        event.seq,
                        format!("event {} was altered after it was written", event.seq),
                    ));
                }
                prev_hash = event.hash;
                expected_seq += 1;
                checked += 1;
            }
        }
        let head = self.store.audit_head(&p.workspace_id).await?;
        let last_seq = expected_seq - 1;
        match head {
            Some((seq, hash)) if seq == last_seq && (seq == 0 || hash == prev_hash) => {}
            None if last_seq == 0 => {}
            Some((seq, _)) if seq > last_seq => {
                return Ok(broken(
                    checked,
                    last_seq + 1,
                    format!("events {} to {seq} are missing", last_seq + 1),
                ));
            }
            _ => {
                return Ok(broken(
                    checked,
                    last_seq,
                    "the chain does not end where the recorded head says".into(),
                ));
            }
        }
        Ok(AuditVerifyResponse {
            ok: true,
            events_checked: checked,
            first_bad_seq: None,
            problem: None,
        })
    }
}

fn invalid_token() -> CoreError {
    CoreError::unauthenticated(
        codes::AUTH_INVALID_TOKEN,
        "the token is not valid; create a new one with `sealbox token create` or sign in again",
    )
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

fn member_store_error(e: StoreError) -> CoreError {
    match e {
        StoreError::LastOwner => CoreError::conflict(
            codes::MEMBER_LAST_OWNER,
            "the workspace must keep at least one owner; make someone else owner first",
        ),
        StoreError::NotFound => CoreError::not_found(codes::MEMBER_NOT_FOUND, "no such member in this workspace"),
        other => other.into(),
    }
}

fn member_info(row: &MemberRow) -> CoreResult<MemberInfo> {
    Ok(MemberInfo {
        email: row.email.clone(),
        role: Role::parse(&row.role).ok_or_else(|| CoreError::internal("stored role is unknown"))?,
        created_at: format_ms(row.created_at),
    })
}

fn audit_event(row: sealbox_store::AuditEventRow) -> AuditEvent {
    let r = row.record;
    AuditEvent {
        seq: row.seq.max(0) as u64,
        at: format_ms(r.at),
        actor: r.actor,
        action: r.action,
        target: r.target,
        outcome: r.outcome,
        request_id: r.request_id,
        client_addr: r.client_addr,
        detail: serde_json::from_str(&r.detail).unwrap_or_else(|_| json!({})),
    }
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
struct LoginAttempt {
    /// The client address as the limits count it (see [`client_limit_key`]).
    client: String,
    keys: Vec<String>,
    counts: Vec<i64>,
    window_start: i64,
}

/// Why an attempt is refused: the limit it is over, and whether it is the first one refused in
/// its window (the one that is audited).
struct LimitRefusal {
    limit: LoginLimit,
    first_in_window: bool,
}

impl LoginAttempt {
    fn within_limits(&self, config: &crate::CoreConfig) -> Result<(), LimitRefusal> {
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
fn client_limit_key(addr: &str) -> String {
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
