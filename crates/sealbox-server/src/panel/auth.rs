//! Sign-in, sign-out, the session cookie and CSRF.
//!
//! The cookie holds core's session token (from a password login; it expires with the session,
//! and signing out revokes it). A form's CSRF token is `HMAC-SHA256(key = session token,
//! "sealbox panel csrf v1")` in hex: only a page of this origin, which the browser sends the
//! `HttpOnly` cookie to, can know it, and it needs no server-side storage. The sign-in form,
//! which has no session yet, pairs a random cookie with a token derived from it the same way.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use sealbox_core::{ErrorClass, Principal, TokenKind};
use sealbox_types::codes;
use secrecy::SecretString;
use sha2::Sha256;

use super::forms::Fields;
use super::{PanelError, PanelResult, render, see_other};
use crate::AppState;
use crate::extract::{Ctx, request_context};

/// The sign-in form and sign-out.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

pub(crate) const SESSION_COOKIE: &str = "sealbox_session";
const LOGIN_COOKIE: &str = "sealbox_login";
const CSRF_LABEL: &[u8] = b"sealbox panel csrf v1";
const SESSION_COOKIE_GRACE_SECONDS: i64 = 3600;

/// A signed-in member, from the session cookie.
pub(crate) struct Session {
    pub principal: Principal,
    pub csrf: String,
}

pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

fn mac(secret: &str) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(CSRF_LABEL);
    Some(mac)
}

pub(crate) fn csrf_for(secret: &str) -> String {
    mac(secret)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Compares in constant time.
fn csrf_ok(secret: &str, given: &str) -> bool {
    match (mac(secret), hex::decode(given.trim())) {
        (Some(m), Ok(bytes)) => m.verify_slice(&bytes).is_ok(),
        _ => false,
    }
}

fn csrf_refused() -> PanelError {
    PanelError::page(
        StatusCode::FORBIDDEN,
        "this form is out of date or did not come from this site (its security token is missing or wrong); reload the page and send it again",
    )
}

impl FromRequestParts<AppState> for Session {
    type Rejection = PanelError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(PanelError::SignIn)?;
        let principal = state.core.authenticate(token).await?;
        // Only sign-in sessions live in the cookie; a personal token there is not a session.
        if principal.token_kind() != TokenKind::Session {
            return Err(PanelError::SignIn);
        }
        Ok(Session {
            principal,
            csrf: csrf_for(token),
        })
    }
}

/// A POST form from a signed-in member whose CSRF token checked out.
pub(crate) struct Form {
    pub session: Session,
    pub fields: Fields,
    /// The request asked for JSON (the panel's script), not a page.
    pub wants_json: bool,
}

impl FromRequest<AppState> for Form {
    type Rejection = PanelError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let token = cookie(&parts.headers, SESSION_COOKIE).unwrap_or_default().to_owned();
        let wants_json = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let fields = read_fields(Request::from_parts(parts, body), state).await?;
        if !csrf_ok(&token, fields.get("csrf")) {
            return Err(csrf_refused());
        }
        Ok(Form {
            session,
            fields,
            wants_json,
        })
    }
}

async fn read_fields(req: Request, state: &AppState) -> Result<Fields, PanelError> {
    let bytes = Bytes::from_request(req, state).await.map_err(|r| {
        PanelError::page(
            r.status(),
            format!(
                "the form could not be read (at most {} KiB)",
                crate::BODY_LIMIT_BYTES / 1024
            ),
        )
    })?;
    Fields::parse(&bytes)
}

pub(super) fn set_cookie(headers: &mut HeaderMap, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.append(header::SET_COOKIE, v);
    }
}

pub(crate) fn clear_cookie(headers: &mut HeaderMap) {
    set_cookie(
        headers,
        format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
}

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    /// "Sign in with SSO" to the workspace shown, when the server has single sign-on.
    sso_href: Option<String>,
    email: String,
    workspace: String,
    error: Option<String>,
    notice: Option<&'static str>,
}

async fn login_page(State(s): State<AppState>, req: Request) -> PanelResult {
    let (mut parts, _) = req.into_parts();
    if Session::from_request_parts(&mut parts, &s).await.is_ok() {
        return Ok(see_other("/"));
    }
    let query = Fields::query(parts.uri.query());
    let workspace = query.opt("workspace").unwrap_or("default").to_owned();
    let notice = match query.get("notice") {
        "signed_out" => Some("You are signed out."),
        "session_ended" => Some("Your session has ended (it expired or was signed out elsewhere); sign in again."),
        _ => None,
    };
    login_form(&s, StatusCode::OK, String::new(), workspace, None, notice)
}

pub(super) fn login_form(
    s: &AppState,
    status: StatusCode,
    email: String,
    workspace: String,
    error: Option<String>,
    notice: Option<&'static str>,
) -> PanelResult {
    let nonce = hex::encode(rand::random::<[u8; 32]>());
    let page = LoginPage {
        csrf: csrf_for(&nonce),
        sso_href: s.oidc.is_some().then(|| {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("workspace", &workspace)
                .finish();
            format!("/sso/start?{query}")
        }),
        email,
        workspace,
        error,
        notice,
    };
    let mut response = render(status, &page)?;
    set_cookie(
        response.headers_mut(),
        format!(
            "{LOGIN_COOKIE}={nonce}; HttpOnly; SameSite=Strict; Path=/login; Max-Age=3600{}",
            secure(s)
        ),
    );
    Ok(response)
}

/// The session cookie for a session token, from a password or a single sign-on. The cookie
/// outlives its session by an hour: a page or form sent just after the session expired still
/// carries it, so core's refusal is told as "your session has ended" instead of a silent
/// sign-out (the dead token signs nobody in).
pub(super) fn session_cookie(s: &AppState, token: &str) -> String {
    let max_age = s.core.config().session_ttl_ms / 1000 + SESSION_COOKIE_GRACE_SECONDS;
    format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{}",
        secure(s)
    )
}

pub(super) fn secure(s: &AppState) -> &'static str {
    if s.panel.secure_cookies { "; Secure" } else { "" }
}

async fn login(State(s): State<AppState>, req: Request) -> PanelResult {
    let (parts, body) = req.into_parts();
    let ctx = request_context(&parts);
    let nonce = cookie(&parts.headers, LOGIN_COOKIE).unwrap_or_default().to_owned();
    let fields = read_fields(Request::from_parts(parts, body), &s).await?;
    let email = fields.get("email").trim().to_owned();
    let workspace = fields.opt("workspace").unwrap_or("default").to_owned();
    if nonce.is_empty() || !csrf_ok(&nonce, fields.get("csrf")) {
        let error = "the sign-in form was out of date; enter your password again".to_owned();
        return login_form(&s, StatusCode::FORBIDDEN, email, workspace, Some(error), None);
    }
    let password = SecretString::from(fields.owned("password"));
    match s.core.login(&ctx, &email, password, Some(&workspace)).await {
        Ok(session) => {
            let mut response = see_other("/");
            set_cookie(response.headers_mut(), session_cookie(&s, &session.token));
            set_cookie(
                response.headers_mut(),
                format!("{LOGIN_COOKIE}=; HttpOnly; SameSite=Strict; Path=/login; Max-Age=0"),
            );
            Ok(response)
        }
        // A refusal the person can act on is shown on the form: a wrong password, too many
        // attempts, a server too busy to check the password now, or a workspace that signs in
        // with single sign-on only.
        Err(e)
            if matches!(e.class, ErrorClass::Unauthenticated | ErrorClass::RateLimited)
                || e.code == codes::AUTH_BUSY
                || e.code == codes::AUTH_PASSWORD_SIGN_IN_OFF =>
        {
            let status = match e.code {
                codes::AUTH_RATE_LIMITED => StatusCode::TOO_MANY_REQUESTS,
                codes::AUTH_BUSY => StatusCode::SERVICE_UNAVAILABLE,
                codes::AUTH_PASSWORD_SIGN_IN_OFF => StatusCode::FORBIDDEN,
                _ => StatusCode::UNAUTHORIZED,
            };
            let mut response = login_form(&s, status, email, workspace, Some(e.message), None)?;
            if let Some(seconds) = e.retry_after_seconds {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}

async fn logout(State(s): State<AppState>, Ctx(ctx): Ctx, form: Form) -> PanelResult {
    s.core.logout(&form.session.principal, &ctx).await?;
    let mut response = see_other("/login?notice=signed_out");
    clear_cookie(response.headers_mut());
    Ok(response.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_check_in_both_directions() {
        let t = csrf_for("sbx_session_token");
        assert_eq!(t.len(), 64);
        assert!(csrf_ok("sbx_session_token", &t));
        assert!(!csrf_ok("sbx_other", &t));
        assert!(!csrf_ok("sbx_session_token", ""));
        assert!(!csrf_ok("sbx_session_token", "zz"));
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; sealbox_session=sbx_x; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("sbx_x"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
