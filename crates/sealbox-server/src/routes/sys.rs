//! `/v1/sys/health` (liveness) and `/v1/sys/ready` (readiness).

use axum::Json;
use axum::extract::State;
use sealbox_types::{ErrorBody, Health, Readiness};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(ready))
}

/// Liveness: the process answers. It does not touch the database.
#[utoipa::path(get, path = "/v1/sys/health", tag = "sys", security(()), responses((status = 200, body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// Readiness: 200 when the database answers, its migrations are applied and the keys are
/// loaded; 503 with the reason (`store.unavailable`, `store.schema_outdated`) otherwise.
#[utoipa::path(get, path = "/v1/sys/ready", tag = "sys", security(()), responses(
    (status = 200, body = Readiness),
    (status = 503, body = ErrorBody, description = "not ready: `store.unavailable` or `store.schema_outdated`, the message says why"),
))]
pub(crate) async fn ready(State(state): State<AppState>) -> ApiResult<Json<Readiness>> {
    Ok(Json(state.core.readiness().await?))
}
