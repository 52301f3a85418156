//! `/v1/trash`: deleted secrets, kept until restored, purged or swept.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sealbox_types::{SecretDetails, SecretList};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Ctx};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(purge))
        .routes(routes!(restore))
}

#[utoipa::path(get, path = "/v1/trash", tag = "secrets",
    responses((status = 200, body = SecretList), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn list(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<SecretList>> {
    Ok(Json(SecretList {
        secrets: s.core.list_trash(&p).await?,
    }))
}

#[utoipa::path(post, path = "/v1/trash/{name}/restore", tag = "secrets", params(("name" = String, Path)),
    responses((status = 200, body = SecretDetails), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn restore(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
) -> ApiResult<Json<SecretDetails>> {
    Ok(Json(s.core.restore_secret(&p, &ctx, &name).await?))
}

#[utoipa::path(delete, path = "/v1/trash/{name}", tag = "secrets", params(("name" = String, Path)),
    responses((status = 204, description = "purged for good"), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn purge(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.core.purge_secret(&p, &ctx, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
