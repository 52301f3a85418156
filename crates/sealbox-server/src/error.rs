//! The one HTTP error boundary.
//!
//! Handlers return [`ApiError`], which carries a status, a stable code and a safe message.
//! [`error_boundary`] then gives every failing response the one shape
//! `{"error": {"code", "message", "request_id"}}`, including axum's own rejections (bad JSON,
//! missing content type, unknown route, body too large) and caught panics, so no error leaves the
//! server in any other form and no internal detail reaches a client.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sealbox_core::{CoreError, ErrorClass};
use sealbox_types::{ErrorBody, ErrorDetail, codes};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Sent as `Retry-After` (seconds) when set.
    pub retry_after_seconds: Option<u64>,
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
            retry_after_seconds: None,
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let status = match e.class {
            ErrorClass::Invalid => StatusCode::BAD_REQUEST,
            ErrorClass::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorClass::Forbidden => StatusCode::FORBIDDEN,
            ErrorClass::NotFound => StatusCode::NOT_FOUND,
            ErrorClass::Conflict => StatusCode::CONFLICT,
            ErrorClass::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorClass::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorClass::FailedDependency => StatusCode::FAILED_DEPENDENCY,
            ErrorClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self {
            status,
            code: e.code,
            message: e.message,
            retry_after_seconds: e.retry_after_seconds,
        }
    }
}

/// Marks a response as a finished API error; the boundary adds the request id and the body.
#[derive(Clone)]
struct ApiErrorMark {
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        if let Some(seconds) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(ApiErrorMark {
            code: self.code,
            message: self.message,
        });
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Rewrites every error response into the one error shape with the request's id.
pub async fn error_boundary(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let panel_path = crate::panel::is_panel_path(request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // The panel's pages stay HTML: a form shown again with its errors passes through, a panel
    // error becomes the HTML error page, and so does any other failure outside `/v1`.
    if response.extensions().get::<crate::panel::HtmlPage>().is_some() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    if let Some(mark) = parts.extensions.remove::<crate::panel::HtmlError>() {
        return crate::panel::error_page(status, Some(&mark.message), &request_id);
    }
    if panel_path && parts.extensions.get::<ApiErrorMark>().is_none() {
        if status.is_server_error() {
            tracing::error!(%status, "panel request failed");
        }
        return crate::panel::error_page(status, None, &request_id);
    }
    let (status, code, message) = match parts.extensions.remove::<ApiErrorMark>() {
        Some(mark) => (status, mark.code, mark.message),
        None => {
            // A rejection from axum or a layer: its plain-text body says what was wrong with the
            // request. Server errors never pass their text on.
            let text = to_bytes(body, 16 * 1024).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&text);
            rejection(status, &text)
        }
    };
    if status.is_server_error() {
        tracing::error!(%status, code, "request failed");
    }
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message,
            request_id,
        },
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    parts.status = status;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(bytes))
}

fn rejection(status: StatusCode, text: &str) -> (StatusCode, &'static str, String) {
    match status {
        StatusCode::NOT_FOUND => (
            status,
            codes::REQUEST_NOT_FOUND,
            "no such route; see /v1/openapi.json".into(),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            status,
            codes::REQUEST_METHOD_NOT_ALLOWED,
            "this route does not take that method; see /v1/openapi.json".into(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            status,
            codes::REQUEST_BODY_TOO_LARGE,
            format!("request body is larger than {} KiB", crate::BODY_LIMIT_BYTES / 1024),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            StatusCode::BAD_REQUEST,
            codes::REQUEST_INVALID,
            "send the body as JSON with `Content-Type: application/json`".into(),
        ),
        s if s.is_client_error() => (
            StatusCode::BAD_REQUEST,
            codes::REQUEST_INVALID,
            describe_rejection(text),
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "internal error; the server log has the details".into(),
        ),
    }
}

/// Turns axum's rejection text into a message for the caller, without repeating any string the
/// caller sent (serde's "invalid type: string \"...\"" would otherwise echo it).
pub(crate) fn describe_rejection(text: &str) -> String {
    let text = text
        .trim()
        .trim_start_matches("Failed to deserialize the JSON body into the target type: ")
        .trim_start_matches("Failed to parse the request body as JSON: ")
        .trim_start_matches("Failed to deserialize query string: ");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("string \"") {
        out.push_str(&rest[..start]);
        out.push_str("a string");
        let after = &rest[start + "string \"".len()..];
        rest = match find_closing_quote(after) {
            Some(end) => &after[end + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    if out.is_empty() {
        "the request is not valid".into()
    } else {
        format!("the request is not valid: {out}")
    }
}

fn find_closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_text_never_echoes_strings_the_caller_sent() {
        let msg = describe_rejection(
            "Failed to deserialize the JSON body into the target type: expected_version: invalid type: string \"hunter2 \\\" x\", expected u64 at line 1 column 30",
        );
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(msg.contains("invalid type: a string, expected u64"), "{msg}");
    }
}
