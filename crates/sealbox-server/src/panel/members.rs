//! The Members page: add a member, change a role, remove.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use sealbox_types::{AddMemberRequest, Role};

use super::auth::Form;
use super::forms::{Fields, form_error};
use super::{Layout, PanelError, PanelResult, Session, render, see_other, seg, short_time};
use crate::AppState;
use crate::extract::Ctx;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/members", get(list).post(add))
        .route("/members/{email}/role", post(set_role))
        .route("/members/{email}/remove", post(remove))
}

struct MemberView {
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
    rows: Vec<MemberView>,
    typed: Fields,
    error: Option<String>,
    new_password: Option<(String, String)>,
}

async fn list(State(s): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> PanelResult {
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
        .map(|m| MemberView {
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

async fn add(State(s): State<AppState>, Ctx(ctx): Ctx, form: Form) -> PanelResult {
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

async fn set_role(State(s): State<AppState>, Ctx(ctx): Ctx, Path(email): Path<String>, form: Form) -> PanelResult {
    let role = role_field(form.fields.get("role")).map_err(|m| PanelError::page(StatusCode::BAD_REQUEST, m))?;
    s.core
        .set_member_role(&form.session.principal, &ctx, &email, role)
        .await?;
    Ok(see_other("/members?notice=member_saved"))
}

async fn remove(State(s): State<AppState>, Ctx(ctx): Ctx, Path(email): Path<String>, form: Form) -> PanelResult {
    s.core.remove_member(&form.session.principal, &ctx, &email).await?;
    Ok(see_other("/members?notice=member_removed"))
}
