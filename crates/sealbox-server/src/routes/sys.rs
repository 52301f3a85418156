//! `/v1/sys/metrics`. Health and readiness answer sealed or not: see [`crate::sealing`].

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sealbox_core::MetricsScope;
use sealbox_types::ErrorBody;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Auth;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// The OpenMetrics text format, which Prometheus reads.
const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The server's metrics in the Prometheus text format, for owners and admins (the workspace
/// gauges of their own workspace only). `--metrics-listen` serves every workspace's without a
/// token on a separate address.
#[utoipa::path(get, path = "/v1/sys/metrics", tag = "sys", responses(
    (status = 200, content_type = "application/openmetrics-text", body = String, description = "Prometheus text format (OpenMetrics 1.0)"),
    (status = "4XX", body = ErrorBody, description = "401 without a valid token; 403 `permission.denied` for editors and identities"),
))]
pub(crate) async fn metrics(State(state): State<AppState>, Auth(p): Auth) -> ApiResult<Response> {
    let text = state.core.metrics_text(MetricsScope::Member(&p)).await?;
    Ok(metrics_response(text))
}

pub(crate) fn metrics_response(text: String) -> Response {
    ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response()
}

/// `--metrics-listen`: the metrics of every workspace without a token, on an address of the
/// operator's choosing (like Vault's `unauthenticated_metrics_access`).
pub(crate) async fn operator_metrics(State(state): State<AppState>) -> ApiResult<Response> {
    let text = state.core.metrics_text(MetricsScope::Operator).await?;
    Ok(metrics_response(text))
}
