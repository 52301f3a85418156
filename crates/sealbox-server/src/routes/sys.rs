//! `/v1/sys/health` and the OpenAPI document.

use axum::routing::get;
use axum::{Json, Router};
use sealbox_types::Health;
use utoipa::OpenApi;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sys/health", get(health))
        .route("/v1/openapi.json", get(openapi))
}

#[utoipa::path(get, path = "/v1/sys/health", tag = "sys", security(()), responses((status = 200, body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

pub(crate) async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::ApiDoc::openapi())
}
