//! The Identities page and an identity's page: tags, variables, tokens, delete (behind a
//! typed-name confirmation like a secret's).

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use sealbox_types::IdentityInfo;

use super::auth::Form;
use super::forms::{Fields, form_error, parse_tags, tags_of, tags_text};
use super::{Layout, PanelError, PanelResult, Session, render, see_other, seg, short_time};
use crate::AppState;
use crate::extract::Ctx;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/identities", get(list).post(create))
        .route("/identities/{name}", get(show))
        .route("/identities/{name}/tags", post(set_tags))
        .route("/identities/{name}/env", post(set_variable))
        .route("/identities/{name}/env/{key}/delete", post(unset_variable))
        .route("/identities/{name}/tokens", post(create_token))
        .route("/identities/{name}/tokens/{id}/revoke", post(revoke_token))
        .route("/identities/{name}/delete", post(delete))
}

struct IdentityView {
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
    rows: Vec<IdentityView>,
    typed: Fields,
    error: Option<String>,
}

async fn list(State(s): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> PanelResult {
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
        .map(|i| IdentityView {
            href: format!("/identities/{}", seg(&i.name)),
            tags: tags_of(&i.tags),
            env_count: i.env.len(),
            created: short_time(&i.created_at),
            name: i.name,
        })
        .collect();
    render(status, &IdentitiesPage { l, rows, typed, error })
}

async fn create(State(s): State<AppState>, Ctx(ctx): Ctx, form: Form) -> PanelResult {
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

struct TokenView {
    id: String,
    name: String,
    /// `sbx_` and the first 8 characters, to match a leaked token; `-` for old tokens.
    prefix: String,
    created: String,
    expires: String,
    last_used: String,
    revoke_action: String,
}

struct VariableView {
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
    env: Vec<VariableView>,
    tokens: Vec<TokenView>,
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

async fn show(
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
            .map(|(k, v)| VariableView {
                key: k.clone(),
                value: v.clone(),
                unset_action: format!("{base}/env/{}/delete", seg(k)),
            })
            .collect(),
        tokens: tokens
            .into_iter()
            .map(|t| TokenView {
                revoke_action: format!("{base}/tokens/{}/revoke", seg(&t.id)),
                created: short_time(&t.created_at),
                expires: {
                    let at = t
                        .expires_at
                        .as_deref()
                        .map(short_time)
                        .unwrap_or_else(|| "never".into());
                    match t.state {
                        sealbox_types::TokenState::Expired => format!("{at} (expired)"),
                        sealbox_types::TokenState::Expiring => format!("{at} (expires soon)"),
                        sealbox_types::TokenState::Active => at,
                    }
                },
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

async fn set_tags(State(s): State<AppState>, Ctx(ctx): Ctx, Path(name): Path<String>, form: Form) -> PanelResult {
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

async fn set_variable(State(s): State<AppState>, Ctx(ctx): Ctx, Path(name): Path<String>, form: Form) -> PanelResult {
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

async fn unset_variable(
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

async fn create_token(State(s): State<AppState>, Ctx(ctx): Ctx, Path(name): Path<String>, form: Form) -> PanelResult {
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

async fn revoke_token(
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

async fn delete(State(s): State<AppState>, Ctx(ctx): Ctx, Path(name): Path<String>, form: Form) -> PanelResult {
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
