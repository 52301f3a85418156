//! "Sign in with SSO": `/sso/start` sends the browser to the identity provider, `/sso/callback`
//! takes it back (OpenID Connect's Authorization Code flow; `oidc.rs` talks to the provider,
//! core decides who signs in).
//!
//! The `state` is kept twice: as a single-use row in the database (core's `sso_logins`, keyed by
//! its hash, so a second use fails on any replica) and in a short-lived `HttpOnly` cookie of the
//! browser that began, so a callback link made for someone else's browser is refused (login
//! CSRF). The cookie is `SameSite=Lax`, the least that a top-level redirect back from the
//! provider carries.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use sealbox_core::{CliHandoff, CoreError, SsoProviderRefusal, SsoSignedIn};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::auth::{cookie, login_form, secure, session_cookie, set_cookie};
use super::forms::Fields;
use super::{PanelError, PanelResult, render};
use crate::AppState;
use crate::extract::request_context;

const SSO_COOKIE: &str = "sealbox_sso";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/sso/start", get(start))
        .route("/sso/callback", get(callback))
}

fn not_configured() -> PanelError {
    PanelError::page(
        StatusCode::NOT_FOUND,
        "this server has no single sign-on; sign in with your e-mail and password",
    )
}

/// `GET /sso/start?workspace=NAME` (and, from `sealbox login --sso`, `cli_redirect` and
/// `cli_challenge`): a sign-in begun, the browser sent to the provider.
async fn start(State(s): State<AppState>, req: Request) -> PanelResult {
    let Some(oidc) = s.oidc.clone() else {
        return Err(not_configured());
    };
    let (parts, _) = req.into_parts();
    let ctx = request_context(&parts);
    let query = Fields::query(parts.uri.query());
    let workspace = query.opt("workspace").unwrap_or("default").to_owned();
    let cli = match (query.opt("cli_redirect"), query.opt("cli_challenge")) {
        (None, None) => None,
        (redirect, challenge) => Some(CliHandoff {
            redirect: redirect.unwrap_or_default().to_owned(),
            challenge: challenge.unwrap_or_default().to_owned(),
        }),
    };
    let begun = match s.core.sso_begin(&ctx, Some(&workspace), cli).await {
        Ok(begun) => begun,
        Err(e) => return sign_in_page(&s, &workspace, e),
    };
    let url = match oidc.authorize_url(&begun).await {
        Ok(url) => url,
        Err(detail) => {
            tracing::warn!(detail = %detail, "single sign-on: the identity provider cannot be reached");
            return Err(PanelError::page(
                StatusCode::FAILED_DEPENDENCY,
                "the identity provider cannot be reached at the moment; try again shortly, or sign in with a password",
            ));
        }
    };
    let mut response = axum::response::Redirect::to(url.as_str()).into_response();
    set_cookie(
        response.headers_mut(),
        format!(
            // EXPOSE: the state goes back to the browser that began, which must show it again.
            "{SSO_COOKIE}={}; HttpOnly; SameSite=Lax; Path=/sso; Max-Age={}{}",
            begun.state.expose_secret(),
            sealbox_core::SSO_START_TTL_MS / 1000,
            secure(&s)
        ),
    );
    Ok(response)
}

/// `GET /sso/callback?code=...&state=...` (or `error=...`): the provider sent the person back.
async fn callback(State(s): State<AppState>, req: Request) -> PanelResult {
    let Some(oidc) = s.oidc.clone() else {
        return Err(not_configured());
    };
    let (parts, _) = req.into_parts();
    let ctx = request_context(&parts);
    let query = Fields::query(parts.uri.query());
    let state = query.get("state");
    // The browser that comes back must be the one that began (its cookie holds the state).
    if state.is_empty() || !same_state(&parts.headers, state) {
        let e = CoreError::unauthenticated(
            sealbox_types::codes::SSO_STATE_INVALID,
            "this sign-in was not begun in this browser, or it has expired; start the sign-in again",
        );
        return sign_in_page(&s, "default", e);
    }
    let pending = match s.core.sso_take(state).await {
        Ok(pending) => pending,
        Err(e) => return clearing_sso_cookie(sign_in_page(&s, "default", e)),
    };
    let workspace = pending.workspace.name.clone();
    let terminal = pending.cli.as_ref().map(|cli| cli.redirect.clone());
    let verified = match (query.opt("error"), query.opt("code")) {
        (None, Some(code)) => oidc.finish(code, &pending).await,
        (error, _) => {
            tracing::info!(
                error = error.unwrap_or("no code"),
                "single sign-on: the provider sent no code"
            );
            Err(SsoProviderRefusal {
                reason: "provider_error",
            })
        }
    };
    let signed_in = match s.core.sso_complete(&ctx, pending, verified).await {
        Ok(signed_in) => signed_in,
        // The terminal that waits is told why, and tells its user.
        Err(e) => match terminal {
            Some(redirect) if !crate::error::ApiError::from(e.clone()).status.is_server_error() => {
                let to = to_terminal(&redirect, &[("error", e.code), ("error_description", &e.message)])?;
                return clearing_sso_cookie(Ok(axum::response::Redirect::to(to.as_str()).into_response()));
            }
            _ => return clearing_sso_cookie(sign_in_page(&s, &workspace, e)),
        },
    };
    let response = match signed_in {
        SsoSignedIn::Session(session) => {
            let page = SignedInPage {
                workspace: session.workspace.clone(),
            };
            let mut response = render(StatusCode::OK, &page)?;
            set_cookie(response.headers_mut(), session_cookie(&s, &session.token));
            response
        }
        SsoSignedIn::Terminal { redirect, code } => {
            // EXPOSE: the one-time code goes to the terminal's loopback address, its only use.
            let to = to_terminal(&redirect, &[("code", code.expose_secret())])?;
            axum::response::Redirect::to(to.as_str()).into_response()
        }
    };
    clearing_sso_cookie(Ok(response))
}

/// Shown after a browser sign-in: the session cookie is `SameSite=Strict`, so a redirect that is
/// still part of the provider's cross-site navigation would arrive without it; this page moves
/// on to the secrets by itself (a same-site navigation), or by its link.
#[derive(askama::Template)]
#[template(path = "sso_done.html")]
struct SignedInPage {
    workspace: String,
}

/// The terminal's loopback address (checked by core when the sign-in began) with `pairs`.
fn to_terminal(redirect: &str, pairs: &[(&str, &str)]) -> PanelResult<url::Url> {
    let mut to = url::Url::parse(redirect)
        .map_err(|_| PanelError::page(StatusCode::BAD_REQUEST, "the terminal's address is not valid"))?;
    to.query_pairs_mut().extend_pairs(pairs);
    Ok(to)
}

fn same_state(headers: &HeaderMap, state: &str) -> bool {
    cookie(headers, SSO_COOKIE).is_some_and(|kept| bool::from(kept.as_bytes().ct_eq(state.as_bytes())))
}

fn clearing_sso_cookie(result: PanelResult) -> PanelResult {
    let mut response = result?;
    set_cookie(
        response.headers_mut(),
        format!("{SSO_COOKIE}=; HttpOnly; SameSite=Lax; Path=/sso; Max-Age=0"),
    );
    Ok(response)
}

/// A refusal told on the sign-in page, with the status its class has in the API.
fn sign_in_page(s: &AppState, workspace: &str, e: CoreError) -> PanelResult {
    let status = crate::error::ApiError::from(e.clone()).status;
    if status.is_server_error() {
        return Err(e.into());
    }
    login_form(s, status, String::new(), workspace.to_owned(), Some(e.message), None)
}
