//! `/v1/sys/backup`, `/v1/sys/rotate` and `/v1/sys/seal`: a backup of the whole database, key
//! rotation and sealing, for the server's operators.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use sealbox_types::RotationStatus;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Ctx};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(backup))
        .routes(routes!(rotate, rotation_status))
        .routes(routes!(seal))
}

/// Seals the running server: every key is dropped from memory (zeroised) and every route but
/// health, readiness, seal status and unseal answers 503 `server.sealed` until `sealbox
/// operator unseal`. Owners of the server's first workspace only; audited as `server.seal`
/// first (fail-closed). On PostgreSQL only this replica is sealed.
#[utoipa::path(post, path = "/v1/sys/seal", tag = "sys",
    responses((status = 204, description = "sealed"), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn seal(State(s): State<AppState>, Auth(p): Auth, Ctx(ctx): Ctx) -> ApiResult<StatusCode> {
    s.core.seal(&p, &ctx).await?;
    s.sealing.seal();
    Ok(StatusCode::NO_CONTENT)
}

/// The backup file (JSON lines, ciphertext only; see README "Backup, restore and moving to
/// PostgreSQL"). Owners of the server's first workspace only; audited as `server.backup`.
#[utoipa::path(post, path = "/v1/sys/backup", tag = "sys",
    responses((status = 200, description = "the backup file", content_type = "application/x-ndjson", body = String),
        (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn backup(State(s): State<AppState>, Auth(p): Auth, Ctx(ctx): Ctx) -> ApiResult<impl IntoResponse> {
    let file = s.core.backup(&p, &ctx).await?;
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], file))
}

/// Adds a keyring version that wraps every new data key at once; the stored data keys are
/// rewrapped to it in the background while the server serves (progress at `GET`). Owners of the
/// server's first workspace only; audited as `server.rotate`.
#[utoipa::path(post, path = "/v1/sys/rotate", tag = "sys",
    responses((status = 200, body = RotationStatus), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn rotate(State(s): State<AppState>, Auth(p): Auth, Ctx(ctx): Ctx) -> ApiResult<Json<RotationStatus>> {
    Ok(Json(s.core.rotate(&p, &ctx).await?))
}

/// The keyring's active version and the rewrapping's progress (done / total, rate, time left).
/// Owners of the server's first workspace only.
#[utoipa::path(get, path = "/v1/sys/rotate", tag = "sys",
    responses((status = 200, body = RotationStatus), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn rotation_status(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<RotationStatus>> {
    Ok(Json(s.core.rotation_status(&p, &ctx).await?))
}
