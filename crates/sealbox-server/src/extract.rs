//! Extractors: who is asking ([`Auth`]) and the request's facts for audit events ([`Ctx`]).
//! A handler that takes `Auth` cannot run for an unauthenticated request.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
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
            retry_after_seconds: None,
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

/// A JSON object body. Unlike `axum::Json` it refuses anything but an object at the top level
/// (serde would otherwise read `["A", "text", "v"]` as a struct), and its refusals are
/// [`ApiError`]s that never repeat a string the caller sent.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::bad_request(
                codes::REQUEST_INVALID,
                "send the body as a JSON object with `Content-Type: application/json`",
            ));
        }
        let body = body_bytes(req, state).await?;
        parse_object(&body).map(ApiJson)
    }
}

/// An optional JSON object body: no body (or an empty one) is `None`.
pub struct OptionalApiJson<T>(pub Option<T>);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for OptionalApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = body_bytes(req, state).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalApiJson(None));
        }
        parse_object(&body).map(|v| OptionalApiJson(Some(v)))
    }
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError {
                status,
                code: codes::REQUEST_BODY_TOO_LARGE,
                message: format!("request body is larger than {} KiB", crate::BODY_LIMIT_BYTES / 1024),
                retry_after_seconds: None,
            }
        } else {
            ApiError::bad_request(codes::REQUEST_INVALID, "the request body could not be read")
        }
    })
}

fn parse_object<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ApiError::bad_request(
            codes::REQUEST_INVALID,
            "the request body must be a JSON object",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(codes::REQUEST_INVALID, crate::error::describe_rejection(&e.to_string())))
}
