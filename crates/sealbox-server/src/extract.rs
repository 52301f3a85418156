//! Extractors: who is asking ([`Auth`]) and the request's facts for audit events ([`Ctx`]).
//! A handler that takes `Auth` cannot run for an unauthenticated request.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sealbox_core::{Principal, RequestContext};
use sealbox_types::codes;

use crate::AppState;
use crate::error::ApiError;

pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let missing = || ApiError {
            status: axum::http::StatusCode::UNAUTHORIZED,
            code: codes::AUTH_MISSING_TOKEN,
            message: "send a token as `Authorization: Bearer sbx_...` (see `sealbox login` or bootstrap.json)".into(),
        };
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(missing)?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(missing)?;
        let principal = state.core.authenticate(token).await?;
        Ok(Auth(principal))
    }
}

pub struct Ctx(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Ctx(request_context(parts)))
    }
}

pub fn request_context(parts: &Parts) -> RequestContext {
    let request_id = parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let client_addr = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    RequestContext {
        request_id,
        client_addr,
    }
}
