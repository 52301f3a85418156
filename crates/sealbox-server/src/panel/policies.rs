//! The Policies page: which identities may read or use which secrets.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use sealbox_types::{CreatePolicyRequest, PolicyAccess};

use super::auth::Form;
use super::forms::{Fields, form_error, parse_list, parse_tags, tags_of};
use super::{Layout, PanelResult, Session, render, see_other, seg, short_time};
use crate::AppState;
use crate::extract::Ctx;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/policies", get(list).post(create))
        .route("/policies/{name}/delete", post(delete))
}

struct PolicyView {
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
    rows: Vec<PolicyView>,
    typed: Fields,
    error: Option<String>,
    /// The access boxes ticked: `read` alone on a fresh form, as sent when it comes back.
    allow_read: bool,
    allow_use: bool,
}

async fn list(State(s): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> PanelResult {
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
        .map(|p| PolicyView {
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

async fn create(State(s): State<AppState>, Ctx(ctx): Ctx, form: Form) -> PanelResult {
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

async fn delete(State(s): State<AppState>, Ctx(ctx): Ctx, Path(name): Path<String>, form: Form) -> PanelResult {
    s.core.delete_policy(&form.session.principal, &ctx, &name).await?;
    Ok(see_other("/policies?notice=policy_deleted"))
}
