//! The trash: deleted secrets, restored or deleted for good (behind a typed-name confirmation).

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};

use super::auth::Form;
use super::forms::Fields;
use super::secrets::{SecretView, secret_view};
use super::{Layout, PanelResult, Session, render, see_other, seg};
use crate::AppState;
use crate::extract::Ctx;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/trash", get(list))
        .route("/trash/{name}/restore", post(restore))
        .route("/trash/{name}/purge", post(purge))
}

#[derive(askama::Template)]
#[template(path = "trash.html")]
struct TrashPage {
    l: Layout,
    rows: Vec<SecretView>,
    /// The secret whose "delete forever" confirmation is open (rendered open without JavaScript).
    purge: Option<SecretView>,
    purge_error: Option<String>,
}

async fn list(State(s): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> PanelResult {
    let q = Fields::query(raw.as_deref());
    let l = Layout::new(&session, "trash", "Trash").with_notice(q.opt("notice"));
    trash_page(&s, &session, l, q.opt("purge"), None, StatusCode::OK).await
}

async fn trash_page(
    s: &AppState,
    session: &Session,
    l: Layout,
    purge: Option<&str>,
    purge_error: Option<String>,
    status: StatusCode,
) -> PanelResult {
    let rows: Vec<SecretView> = s
        .core
        .list_trash(&session.principal)
        .await?
        .iter()
        .map(secret_view)
        .collect();
    // Only a name that is in the trash opens the confirmation; nothing from the URL is echoed.
    let purge = purge.and_then(|n| rows.iter().find(|r| r.name == n)).cloned();
    let page = TrashPage {
        l,
        rows,
        purge,
        purge_error,
    };
    render(status, &page)
}

/// Deletes a secret in the trash for good, once its name is typed (checked here too).
async fn purge(State(s): State<AppState>, Ctx(ctx): Ctx, Path(name): Path<String>, form: Form) -> PanelResult {
    if form.fields.get("confirm_name").trim() != name {
        let l = Layout::new(&form.session, "trash", "Trash");
        let error = Some("type the secret's name exactly to delete it for good".to_owned());
        return trash_page(&s, &form.session, l, Some(&name), error, StatusCode::BAD_REQUEST).await;
    }
    s.core.purge_secret(&form.session.principal, &ctx, &name).await?;
    Ok(see_other("/trash?notice=purged"))
}

async fn restore(State(s): State<AppState>, Ctx(ctx): Ctx, Path(name): Path<String>, form: Form) -> PanelResult {
    let d = s.core.restore_secret(&form.session.principal, &ctx, &name).await?;
    Ok(see_other(&format!("/secrets/{}?notice=restored", seg(&d.name))))
}
