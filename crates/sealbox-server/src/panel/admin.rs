//! Identities (tags, variables, tokens), policies, members and the audit log.

use std::collections::VecDeque;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use sealbox_core::{CoreError, ErrorClass};
use sealbox_types::{
    AddMemberRequest, AuditEvent, AuditQuery, AuditVerifyResponse, CreatePolicyRequest, IdentityInfo, PolicyAccess,
    Role,
};

use super::forms::{Fields, parse_list, parse_tags, tags_text};
use super::session::Form;
use super::{Layout, PanelError, PanelResult, Session, render, see_other, seg, short_time};
use crate::AppState;
use crate::extract::Ctx;

/// A core refusal that belongs on the form (bad input, a name in use), not on an error page.
fn form_error(e: CoreError) -> Result<String, PanelError> {
    if matches!(e.class, ErrorClass::Invalid | ErrorClass::Conflict) {
        Ok(e.message)
    } else {
        Err(e.into())
    }
}

fn tags_of(tags: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    tags.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

// ---- identities ----

struct IdentityRow {
    name: String,
    href: String,
    tags: Vec<String>,
    env_count: usize,
    created: String,
}

#[derive(askama::Template)]
#[template(path = "identities.html")]
struct IdentitiesPage {
    l: Layout,
    rows: Vec<IdentityRow>,
    typed: Fields,
    error: Option<String>,
}

pub(crate) async fn identities(State(s): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> PanelResult {
    let q = Fields::query(raw.as_deref());
    let l = Layout::new(&session, "identities", "Identities").with_notice(q.opt("notice"));
    identities_page(&s, &session, l, Fields::default(), None, StatusCode::OK).await
}

async fn identities_page(
    s: &AppState,
    session: &Session,
    l: Layout,
    typed: Fields,
    error: Option<String>,
    status: StatusCode,
) -> PanelResult {
    let rows = s
        .core
        .list_identities(&session.principal)
        .await?
        .into_iter()
        .map(|i| IdentityRow {
            href: format!("/identities/{}", seg(&i.name)),
            tags: tags_of(&i.tags),
            env_count: i.env.len(),
            created: short_time(&i.created_at),
            name: i.name,
        })
        .collect();
    render(status, &IdentitiesPage { l, rows, typed, error })
}

pub(crate) async fn create_identity(State(s): State<AppState>, Ctx(ctx): Ctx, form: Form) -> PanelResult {
    let f = &form.fields;
    let name = f.get("name").trim().to_owned();
    let result = match parse_tags(f.get("tags")) {
        Ok(tags) => s
            .core
            .create_identity(&form.session.principal, &ctx, &name, tags)
            .await
            .map_err(form_error),
        Err(e) => Err(Ok(format!("tags: {e}"))),
    };
    match result {
        Ok(i) => Ok(see_other(&format!(
            "/identities/{}?notice=identity_created",
            seg(&i.name)
        ))),
        Err(Ok(message)) => {
            let l = Layout::new(&form.session, "identities", "Identities");
            identities_page(
                &s,
                &form.session,
                l,
                form.fields,
                Some(message),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(Err(e)) => Err(e),
    }
}

struct TokenRow {
    id: String,
    name: String,
    /// `sbx_` and the first 8 characters, to match a leaked token; `-` for old tokens.
    prefix: String,
    created: String,
    expires: String,
    last_used: String,
    revoke_action: String,
}

struct EnvRow {
    key: String,
    value: String,
    unset_action: String,
}

#[derive(askama::Template)]
#[template(path = "identity.html")]
struct IdentityPage {
    l: Layout,
    i: IdentityInfo,
    base: String,
    tags: String,
    env: Vec<EnvRow>,
    tokens: Vec<TokenRow>,
    created: String,
    /// Who created it, a member shown as their e-mail (as on the secret pages).
    created_by: String,
    new_token: Option<String>,
    typed: Fields,
    error: Option<(&'static str, String)>,
    /// The delete confirmation is open (rendered open without JavaScript), with its error.
    delete_open: bool,
    delete_error: Option<String>,
}

/// Whether the delete confirmation is open, and why the last try was refused.
type DeleteConfirm = (bool, Option<String>);

impl IdentityPage {
    fn error_for(&self, form: &str) -> Option<&str> {
        self.error.as_ref().filter(|(f, _)| *f == form).map(|(_, m)| m.as_str())
    }
}

pub(crate) async fn identity(
    State(s): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> PanelResult {
    let q = Fields::query(raw.as_deref());
    let l = Layout::new(&session, "identities", name.clone()).with_notice(q.opt("notice"));
    let delete = (q.get("delete") == "1", None);
    identity_page(
        &s,
        &session,
        l,
        &name,
        Fields::default(),
        None,
        None,
        delete,
        StatusCode::OK,
    )
    .await
}

#[allow(clippy::too_many_arguments)] // the page's parts
async fn identity_page(
    s: &AppState,
    session: &Session,
    l: Layout,
    name: &str,
    typed: Fields,
    error: Option<(&'static str, String)>,
    new_token: Option<String>,
    (delete_open, delete_error): DeleteConfirm,
    status: StatusCode,
) -> PanelResult {
    let p = &session.principal;
    let i = s.core.get_identity(p, name).await?;
    let tokens = s.core.list_identity_tokens(p, name).await?;
    let base = format!("/identities/{}", seg(&i.name));
    // The tags form shows the stored tags, or what was typed when it came back with an error.
    let tags = match &error {
        Some(("tags", _)) => typed.owned("tags"),
        _ => tags_text(&i.tags),
    };
    let page = IdentityPage {
        l,
        tags,
        env: i
            .env
            .iter()
            .map(|(k, v)| EnvRow {
                key: k.clone(),
                value: v.clone(),
                unset_action: format!("{base}/env/{}/delete", seg(k)),
            })
            .collect(),
        tokens: tokens
            .into_iter()
            .map(|t| TokenRow {
                revoke_action: format!("{base}/tokens/{}/revoke", seg(&t.id)),
                created: short_time(&t.created_at),
                expires: t
                    .expires_at
                    .as_deref()
                    .map(short_time)
                    .unwrap_or_else(|| "never".into()),
                last_used: t
                    .last_used_at
                    .as_deref()
                    .map(short_time)
                    .unwrap_or_else(|| "never".into()),
                prefix: t.prefix.map_or_else(|| "-".to_owned(), |p| format!("sbx_{p}…")),
                id: t.id,
                name: t.name,
            })
            .collect(),
        created: short_time(&i.created_at),
        created_by: i.created_by.strip_prefix("member:").unwrap_or(&i.created_by).to_owned(),
        base,
        i,
        new_token,
        typed,
        error,
        delete_open,
        delete_error,
    };
    render(status, &page)
}

/// Re-renders the identity page with `message` beside form `which`, or redirects after success.
async fn identity_result<T>(
    s: &AppState,
    form: Form,
    name: &str,
    which: &'static str,
    result: Result<T, Result<String, PanelError>>,
    notice: &str,
) -> PanelResult {
    match result {
        Ok(_) => Ok(see_other(&format!("/identities/{}?notice={notice}", seg(name)))),
        Err(Ok(message)) => {
            let l = Layout::new(&form.session, "identities", name.to_owned());
            identity_page(
                s,
                &form.session,
                l,
                name,
                form.fields,
                Some((which, message)),
                None,
                (false, None),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(Err(e)) => Err(e),
    }
}

pub(crate) async fn identity_tags(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    form: Form,
) -> PanelResult {
    let result = match parse_tags(form.fields.get("tags")) {
        Ok(tags) => s
            .core
            .set_identity_tags(&form.session.principal, &ctx, &name, tags)
            .await
            .map_err(form_error),
        Err(e) => Err(Ok(format!("tags: {e}"))),
    };
    identity_result(&s, form, &name, "tags", result, "identity_saved").await
}

pub(crate) async fn identity_env_set(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    form: Form,
) -> PanelResult {
    let result = s
        .core
        .set_identity_env(
            &form.session.principal,
            &ctx,
            &name,
            form.fields.get("key").trim(),
            form.fields.get("value"),
        )
        .await
        .map_err(form_error);
    identity_result(&s, form, &name, "env", result, "identity_saved").await
}

pub(crate) async fn identity_env_unset(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path((name, key)): Path<(String, String)>,
    form: Form,
) -> PanelResult {
    s.core
        .unset_identity_env(&form.session.principal, &ctx, &name, &key)
        .await?;
    Ok(see_other(&format!("/identities/{}?notice=identity_saved", seg(&name))))
}

pub(crate) async fn identity_token_create(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    form: Form,
) -> PanelResult {
    let f = &form.fields;
    let expires = match f.opt("expires_days") {
        None => Ok(None),
        Some(d) => d
            .parse::<u64>()
            .ok()
            .filter(|d| (1..=3650).contains(d))
            .map(|d| Some(d * 86_400))
            .ok_or_else(|| "expires in: a whole number of days from 1 to 3650, or empty for never".to_owned()),
    };
    let result = match expires {
        Ok(expires) => s
            .core
            .create_identity_token(&form.session.principal, &ctx, &name, f.get("name").trim(), expires)
            .await
            .map_err(form_error),
        Err(m) => Err(Ok(m)),
    };
    match result {
        // Shown this once, on the response to the POST itself (never through a redirect).
        Ok(created) => {
            let l = Layout::new(&form.session, "identities", name.clone());
            identity_page(
                &s,
                &form.session,
                l,
                &name,
                Fields::default(),
                None,
                Some(created.token),
                (false, None),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => identity_result::<()>(&s, form, &name, "token", Err(e), "").await,
    }
}

pub(crate) async fn identity_token_revoke(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path((name, id)): Path<(String, String)>,
    form: Form,
) -> PanelResult {
    s.core
        .revoke_identity_token(&form.session.principal, &ctx, &name, &id)
        .await?;
    Ok(see_other(&format!("/identities/{}?notice=token_revoked", seg(&name))))
}

pub(crate) async fn identity_delete(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    form: Form,
) -> PanelResult {
    // Deleting revokes the identity's tokens at once: the name must be typed (as for a secret).
    if form.fields.get("confirm_name").trim() != name {
        let l = Layout::new(&form.session, "identities", name.clone());
        let delete = (
            true,
            Some(format!("type the identity's name, {name}, exactly to delete it")),
        );
        let status = StatusCode::BAD_REQUEST;
        return identity_page(
            &s,
            &form.session,
            l,
            &name,
            Fields::default(),
            None,
            None,
            delete,
            status,
        )
        .await;
    }
    s.core.delete_identity(&form.session.principal, &ctx, &name).await?;
    Ok(see_other("/identities?notice=identity_deleted"))
}

// ---- policies ----

struct PolicyRow {
    name: String,
    identities: String,
    identity_tags: Vec<String>,
    secret_tags: Vec<String>,
    allow: String,
    created: String,
    delete_action: String,
}

#[derive(askama::Template)]
#[template(path = "policies.html")]
struct PoliciesPage {
    l: Layout,
    rows: Vec<PolicyRow>,
    typed: Fields,
    error: Option<String>,
    /// The access boxes ticked: `read` alone on a fresh form, as sent when it comes back.
    allow_read: bool,
    allow_use: bool,
}

pub(crate) async fn policies(State(s): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> PanelResult {
    let q = Fields::query(raw.as_deref());
    let l = Layout::new(&session, "policies", "Policies").with_notice(q.opt("notice"));
    policies_page(&s, &session, l, Fields::default(), None, StatusCode::OK).await
}

async fn policies_page(
    s: &AppState,
    session: &Session,
    l: Layout,
    typed: Fields,
    error: Option<String>,
    status: StatusCode,
) -> PanelResult {
    let rows = s
        .core
        .list_policies(&session.principal)
        .await?
        .into_iter()
        .map(|p| PolicyRow {
            delete_action: format!("/policies/{}/delete", seg(&p.name)),
            identities: p.identities.join(", "),
            identity_tags: tags_of(&p.identity_tags),
            secret_tags: tags_of(&p.secret_tags),
            allow: p
                .allow
                .iter()
                .map(|a| match a {
                    PolicyAccess::Read => "read",
                    PolicyAccess::Use => "use",
                })
                .collect::<Vec<_>>()
                .join(", "),
            created: short_time(&p.created_at),
            name: p.name,
        })
        .collect();
    // A fresh form (nothing typed) starts with `read`; one sent back keeps what was ticked.
    let (allow_read, allow_use) = if error.is_none() {
        (true, false)
    } else {
        let allow = typed.all("allow");
        (allow.contains(&"read"), allow.contains(&"use"))
    };
    render(
        status,
        &PoliciesPage {
            l,
            rows,
            typed,
            error,
            allow_read,
            allow_use,
        },
    )
}

pub(crate) async fn create_policy(State(s): State<AppState>, Ctx(ctx): Ctx, form: Form) -> PanelResult {
    let f = &form.fields;
    let parsed = parse_tags(f.get("identity_tags"))
        .map_err(|e| format!("identity tags: {e}"))
        .and_then(|it| {
            parse_tags(f.get("secret_tags"))
                .map(|st| (it, st))
                .map_err(|e| format!("secret tags: {e}"))
        });
    let allow: Vec<PolicyAccess> = f
        .all("allow")
        .into_iter()
        .filter_map(|a| match a {
            "read" => Some(PolicyAccess::Read),
            "use" => Some(PolicyAccess::Use),
            _ => None,
        })
        .collect();
    let result = match parsed {
        Ok((identity_tags, secret_tags)) => {
            let req = CreatePolicyRequest {
                name: f.get("name").trim().to_owned(),
                identities: parse_list(f.get("identities")),
                identity_tags,
                secret_tags,
                allow,
            };
            s.core
                .create_policy(&form.session.principal, &ctx, req)
                .await
                .map_err(form_error)
        }
        Err(m) => Err(Ok(m)),
    };
    match result {
        Ok(_) => Ok(see_other("/policies?notice=policy_created")),
        Err(Ok(message)) => {
            let l = Layout::new(&form.session, "policies", "Policies");
            policies_page(
                &s,
                &form.session,
                l,
                form.fields,
                Some(message),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(Err(e)) => Err(e),
    }
}

pub(crate) async fn delete_policy(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    form: Form,
) -> PanelResult {
    s.core.delete_policy(&form.session.principal, &ctx, &name).await?;
    Ok(see_other("/policies?notice=policy_deleted"))
}

// ---- members ----

struct MemberRow {
    email: String,
    role: &'static str,
    created: String,
    role_action: String,
    remove_action: String,
    is_me: bool,
}

#[derive(askama::Template)]
#[template(path = "members.html")]
struct MembersPage {
    l: Layout,
    rows: Vec<MemberRow>,
    typed: Fields,
    error: Option<String>,
    new_password: Option<(String, String)>,
}

pub(crate) async fn members(State(s): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> PanelResult {
    let q = Fields::query(raw.as_deref());
    let l = Layout::new(&session, "members", "Members").with_notice(q.opt("notice"));
    members_page(&s, &session, l, Fields::default(), None, None, StatusCode::OK).await
}

async fn members_page(
    s: &AppState,
    session: &Session,
    l: Layout,
    typed: Fields,
    error: Option<String>,
    new_password: Option<(String, String)>,
    status: StatusCode,
) -> PanelResult {
    let me = l.email.clone();
    let rows = s
        .core
        .list_members(&session.principal)
        .await?
        .into_iter()
        .map(|m| MemberRow {
            role_action: format!("/members/{}/role", seg(&m.email)),
            remove_action: format!("/members/{}/remove", seg(&m.email)),
            role: m.role.as_str(),
            created: short_time(&m.created_at),
            is_me: m.email == me,
            email: m.email,
        })
        .collect();
    render(
        status,
        &MembersPage {
            l,
            rows,
            typed,
            error,
            new_password,
        },
    )
}

fn role_field(raw: &str) -> Result<Role, String> {
    Role::parse(raw).ok_or_else(|| "role: choose owner, admin or editor".to_owned())
}

pub(crate) async fn add_member(State(s): State<AppState>, Ctx(ctx): Ctx, form: Form) -> PanelResult {
    let f = &form.fields;
    let result = match role_field(f.get("role")) {
        Ok(role) => {
            let req = AddMemberRequest {
                email: f.get("email").trim().to_owned(),
                role,
                password: f.opt("password").map(str::to_owned),
            };
            s.core
                .add_member(&form.session.principal, &ctx, req)
                .await
                .map_err(form_error)
        }
        Err(m) => Err(Ok(m)),
    };
    let l = Layout::new(&form.session, "members", "Members");
    match result {
        // A generated password is shown this once, on the response to the POST.
        Ok(added) => match added.password {
            Some(pw) => {
                let shown = Some((added.member.email, pw));
                members_page(&s, &form.session, l, Fields::default(), None, shown, StatusCode::OK).await
            }
            None => Ok(see_other("/members?notice=member_added")),
        },
        Err(Ok(message)) => {
            let typed = Fields::parse(
                format!(
                    "email={}&role={}",
                    seg(form.fields.get("email")),
                    seg(form.fields.get("role"))
                )
                .as_bytes(),
            )
            .unwrap_or_default();
            members_page(
                &s,
                &form.session,
                l,
                typed,
                Some(message),
                None,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(Err(e)) => Err(e),
    }
}

pub(crate) async fn member_role(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(email): Path<String>,
    form: Form,
) -> PanelResult {
    let role = role_field(form.fields.get("role")).map_err(|m| PanelError::page(StatusCode::BAD_REQUEST, m))?;
    s.core
        .set_member_role(&form.session.principal, &ctx, &email, role)
        .await?;
    Ok(see_other("/members?notice=member_saved"))
}

pub(crate) async fn remove_member(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(email): Path<String>,
    form: Form,
) -> PanelResult {
    s.core.remove_member(&form.session.principal, &ctx, &email).await?;
    Ok(see_other("/members?notice=member_removed"))
}

// ---- audit ----

struct EventRow {
    seq: u64,
    at: String,
    actor: String,
    action: String,
    target: String,
    outcome: String,
    request_id: String,
    request_short: String,
}

#[derive(askama::Template)]
#[template(path = "audit.html")]
struct AuditPage {
    l: Layout,
    rows: Vec<EventRow>,
    verify: AuditVerifyResponse,
    typed: Fields,
    error: Option<String>,
    truncated: bool,
}

const AUDIT_SHOWN: usize = 200;
const AUDIT_PAGE: u64 = 1000;
const AUDIT_MAX_PAGES: usize = 50;

/// `2026-12-01T08:00` (a datetime-local input) as RFC 3339 UTC; anything else as typed.
fn time_filter(raw: Option<&str>) -> Option<String> {
    raw.map(|t| {
        if t.len() == 16 && t.as_bytes().get(10) == Some(&b'T') {
            format!("{t}:00Z")
        } else {
            t.to_owned()
        }
    })
}

/// The table shows a member as their e-mail (without core's `member:` prefix); an actor typed
/// that way is filtered as the member it names. Other labels (`identity:bot`, `token:...`,
/// `anonymous`) are taken as typed.
fn actor_filter(typed: &str) -> String {
    if typed.contains('@') && !typed.contains(':') {
        format!("member:{typed}")
    } else {
        typed.to_owned()
    }
}

/// The newest matching events, newest first. Core pages forward from the oldest, so the panel
/// reads pages and keeps the last [`AUDIT_SHOWN`].
pub(crate) async fn audit(State(s): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> PanelResult {
    let q = Fields::query(raw.as_deref());
    let p = &session.principal;
    let verify = s.core.verify_audit(p).await?;
    let target = q.opt("secret").map(|n| format!("secret:{n}"));
    let mut events: VecDeque<AuditEvent> = VecDeque::new();
    let mut after = None;
    let mut error = None;
    let mut truncated = false;
    for page in 0..AUDIT_MAX_PAGES {
        let query = AuditQuery {
            since: time_filter(q.opt("since")),
            until: time_filter(q.opt("until")),
            actor: q.opt("actor").map(actor_filter),
            action: q.opt("action").map(str::to_owned),
            target: target.clone(),
            after,
            before: None,
            order: None,
            limit: Some(AUDIT_PAGE),
        };
        match s.core.list_audit(p, query).await {
            Ok(batch) => {
                let n = batch.len() as u64;
                after = batch.last().map(|e| e.seq);
                for e in batch {
                    events.push_back(e);
                    if events.len() > AUDIT_SHOWN {
                        events.pop_front();
                        truncated = true;
                    }
                }
                if n < AUDIT_PAGE {
                    break;
                }
                truncated |= page + 1 == AUDIT_MAX_PAGES;
            }
            Err(e) => {
                error = Some(form_error(e)?);
                break;
            }
        }
    }
    let rows = events
        .into_iter()
        .rev()
        .map(|e| EventRow {
            seq: e.seq,
            at: short_time(&e.at),
            actor: e.actor.strip_prefix("member:").unwrap_or(&e.actor).to_owned(),
            action: e.action,
            target: e.target,
            outcome: e.outcome,
            request_short: e.request_id.chars().take(8).collect(),
            request_id: e.request_id,
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = AuditPage {
        l: Layout::new(&session, "audit", "Audit log"),
        rows,
        verify,
        typed: q,
        error,
        truncated,
    };
    render(status, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_local_becomes_rfc3339() {
        assert_eq!(
            time_filter(Some("2026-12-01T08:00")).as_deref(),
            Some("2026-12-01T08:00:00Z")
        );
        assert_eq!(
            time_filter(Some("2026-12-01T08:00:00Z")).as_deref(),
            Some("2026-12-01T08:00:00Z")
        );
        assert_eq!(time_filter(None), None);
    }

    #[test]
    fn an_e_mail_filters_as_the_member() {
        assert_eq!(actor_filter("ann@example.com"), "member:ann@example.com");
        assert_eq!(actor_filter("member:ann@example.com"), "member:ann@example.com");
        assert_eq!(actor_filter("identity:bot"), "identity:bot");
        assert_eq!(actor_filter("anonymous"), "anonymous");
    }
}
