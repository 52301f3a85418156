//! The web admin panel, served at `/`: server-rendered HTML (askama templates in `templates/`),
//! a stylesheet and a little plain JavaScript (`static/`, embedded in the binary).
//!
//! **Architecture Invariant:** the panel decides no authorisation. Every handler calls a
//! `sealbox_core::Sealbox` use-case, which refuses what the principal may not do; the panel only
//! hides controls a role cannot use (asking core's `authorize`), and an editor's forged POST is
//! refused by core like any other request.
//!
//! Sessions are core's password-login session tokens, kept in an `HttpOnly; SameSite=Strict`
//! cookie (`Secure` under TLS); every POST form carries a CSRF token derived from the session
//! token with HMAC ([`session`]). Forms work without JavaScript (POST, redirect, GET); the script
//! only adds the reveal timer, the side panel, the modal and the character counter.

mod assets;
mod audit;
mod auth;
mod forms;
mod identities;
mod members;
mod policies;
mod secrets;
mod sso;
mod trash;
mod value_form;

use askama::Template;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use sealbox_core::principal::{Permission, authorize};
use sealbox_core::{CoreError, ErrorClass, Principal};

use crate::AppState;

pub(crate) use auth::Session;

/// The panel's settings, from `sealbox_server::Config`.
#[derive(Debug, Clone)]
pub struct PanelSettings {
    /// How long a revealed value stays on screen.
    pub reveal_seconds: u32,
    /// Mark the session cookie `Secure` (served over TLS, directly or behind a proxy).
    pub secure_cookies: bool,
}

impl Default for PanelSettings {
    fn default() -> Self {
        Self {
            reveal_seconds: 30,
            secure_cookies: false,
        }
    }
}

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(sso::router())
        .merge(secrets::router())
        .merge(trash::router())
        .merge(identities::router())
        .merge(policies::router())
        .merge(members::router())
        .merge(audit::router())
        .merge(assets::router())
        .layer(middleware::from_fn(security_headers))
}

/// Whether a path belongs to the panel (everything but the JSON API under `/v1`).
pub(crate) fn is_panel_path(path: &str) -> bool {
    !(path == "/v1" || path.starts_with("/v1/"))
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    add_security_headers(response.headers_mut());
    response
}

pub(crate) fn add_security_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
}

/// A rendered panel page with a failing status (a form shown again with its errors): the error
/// boundary passes it through untouched instead of rewriting it into the API's JSON error.
#[derive(Clone)]
pub(crate) struct HtmlPage;

/// A panel error; the boundary renders it as an HTML page with the request id.
#[derive(Clone)]
pub(crate) struct HtmlError {
    pub message: String,
}

#[derive(Debug)]
pub(crate) enum PanelError {
    /// An error page with a message that is safe to show.
    Page { status: StatusCode, message: String },
    /// Not signed in: back to the sign-in page.
    SignIn,
    /// The cookie's session expired or was revoked: back to the sign-in page, which says so.
    SessionEnded,
}

pub(crate) type PanelResult<T = Response> = Result<T, PanelError>;

impl PanelError {
    pub fn page(status: StatusCode, message: impl Into<String>) -> Self {
        Self::Page {
            status,
            message: message.into(),
        }
    }
}

impl From<CoreError> for PanelError {
    fn from(e: CoreError) -> Self {
        // Every panel request that reaches core has a session cookie, so a refusal of its token
        // means that session has ended.
        if e.class == ErrorClass::Unauthenticated {
            return PanelError::SessionEnded;
        }
        let api = crate::error::ApiError::from(e);
        if api.status.is_server_error() {
            tracing::error!(status = %api.status, code = api.code, "panel request failed");
        }
        PanelError::Page {
            status: api.status,
            message: api.message,
        }
    }
}

impl IntoResponse for PanelError {
    fn into_response(self) -> Response {
        match self {
            PanelError::Page { status, message } => {
                let mut response = status.into_response();
                response.extensions_mut().insert(HtmlError { message });
                response
            }
            PanelError::SignIn | PanelError::SessionEnded => {
                let to = match self {
                    PanelError::SessionEnded => "/login?notice=session_ended",
                    _ => "/login",
                };
                let mut response = Redirect::to(to).into_response();
                auth::clear_cookie(response.headers_mut());
                response
            }
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
    request_id: &'a str,
}

/// The HTML error page: what went wrong in words safe to show, and the request id to quote.
pub(crate) fn error_page(status: StatusCode, message: Option<&str>, request_id: &str) -> Response {
    let generic = match status {
        StatusCode::NOT_FOUND => "there is no such page; go back to the secrets",
        StatusCode::METHOD_NOT_ALLOWED => "this page does not take that kind of request",
        StatusCode::PAYLOAD_TOO_LARGE => "the form is too large",
        s if s.is_server_error() => "something went wrong on the server; the server log has the details",
        _ => "the request could not be handled; go back and try again",
    };
    // Server errors never show their text, whoever produced it.
    let message = match message {
        Some(m) if !status.is_server_error() => m,
        _ => generic,
    };
    let page = ErrorPage {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or("Error"),
        message,
        request_id,
    };
    let body = page
        .render()
        .unwrap_or_else(|_| format!("error {}; request id {request_id}", status.as_u16()));
    let mut response = (status, html_headers(), body).into_response();
    let headers = response.headers_mut();
    add_security_headers(headers);
    // Made after the router's own header layers ran, so it sets theirs too.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    response.extensions_mut().insert(HtmlPage);
    response
}

fn html_headers() -> [(HeaderName, HeaderValue); 1] {
    [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    )]
}

/// Renders a page with `status`; a failing status is marked so the boundary keeps the HTML.
pub(crate) fn render(status: StatusCode, page: &impl Template) -> PanelResult {
    let body = page.render().map_err(|e| {
        tracing::error!(error = %e, "panel template failed");
        PanelError::page(StatusCode::INTERNAL_SERVER_ERROR, "")
    })?;
    let mut response = (status, html_headers(), body).into_response();
    response.extensions_mut().insert(HtmlPage);
    Ok(response)
}

/// POST, redirect, GET: a 303 to `to`.
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// What every page's frame shows: who is signed in, the navigation (links a role cannot use are
/// hidden; core refuses them anyway), and the form token for the sign-out button.
pub(crate) struct Layout {
    pub title: String,
    pub active: &'static str,
    pub email: String,
    pub role: &'static str,
    pub workspace: String,
    pub csrf: String,
    pub may_manage_secrets: bool,
    pub may_manage_machines: bool,
    pub may_manage_members: bool,
    pub may_read_audit: bool,
    pub notice: Option<&'static str>,
}

impl Layout {
    pub fn new(session: &Session, active: &'static str, title: impl Into<String>) -> Self {
        let p: &Principal = &session.principal;
        let (email, role) = match p.member() {
            Ok(m) => (m.email.clone(), m.role.as_str()),
            Err(_) => (String::new(), ""),
        };
        let may = |perm| authorize(p, perm).is_ok();
        Self {
            title: title.into(),
            active,
            email,
            role,
            workspace: p.workspace_name().to_owned(),
            csrf: session.csrf.clone(),
            may_manage_secrets: may(Permission::ManageSecrets),
            may_manage_machines: may(Permission::ManageMachineAccess),
            may_manage_members: may(Permission::ManageMembers),
            may_read_audit: may(Permission::ReadAudit),
            notice: None,
        }
    }

    /// A fixed message named by the `notice` query parameter after a redirect (never free text
    /// from the URL).
    pub fn with_notice(mut self, key: Option<&str>) -> Self {
        self.notice = key.and_then(notice_text);
        self
    }
}

fn notice_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "created" => "The secret was created.",
        "updated" => "The secret was saved.",
        "rolled_back" => "The secret was rolled back; the old value is now the newest version.",
        "deleted" => "The secret was moved to the trash.",
        "restored" => "The secret was restored from the trash.",
        "purged" => "The secret was deleted for good.",
        "identity_created" => "The identity was created.",
        "identity_saved" => "The identity was saved.",
        "identity_deleted" => "The identity was deleted.",
        "token_revoked" => "The token was revoked.",
        "policy_created" => "The policy was created.",
        "policy_deleted" => "The policy was deleted.",
        "member_added" => "The member was added.",
        "member_saved" => "The member's role was changed.",
        "member_removed" => "The member was removed.",
        _ => return None,
    })
}

/// Percent-encodes one path segment for a link.
pub(crate) fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `2026-12-01T08:15:30.123Z` as `2026-12-01 08:15 UTC`.
pub(crate) fn short_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => rfc3339.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_for_links() {
        assert_eq!(seg("API_KEY"), "API_KEY");
        assert_eq!(seg("a b/c?"), "a%20b%2Fc%3F");
        assert_eq!(seg("ann+x@example.com"), "ann%2Bx@example.com");
    }

    #[test]
    fn times_are_shortened() {
        assert_eq!(short_time("2026-12-01T08:15:30.123Z"), "2026-12-01 08:15 UTC");
        assert_eq!(short_time("x"), "x");
    }

    #[test]
    fn api_paths_are_not_panel_paths() {
        assert!(is_panel_path("/"));
        assert!(is_panel_path("/secrets/A"));
        assert!(is_panel_path("/v1x"));
        assert!(!is_panel_path("/v1/secrets"));
        assert!(!is_panel_path("/v1"));
    }
}
