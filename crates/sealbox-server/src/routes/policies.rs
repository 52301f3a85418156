//! `/v1/policies`: which identities may read which secrets.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sealbox_types::{CreatePolicyRequest, PolicyInfo, PolicyList};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth, Ctx};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(delete))
}

#[utoipa::path(get, path = "/v1/policies", tag = "policies",
    responses((status = 200, body = PolicyList), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn list(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<PolicyList>> {
    Ok(Json(PolicyList {
        policies: s.core.list_policies(&p).await?,
    }))
}

#[utoipa::path(post, path = "/v1/policies", tag = "policies", request_body = CreatePolicyRequest,
    responses((status = 201, body = PolicyInfo), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<CreatePolicyRequest>,
) -> ApiResult<(StatusCode, Json<PolicyInfo>)> {
    Ok((StatusCode::CREATED, Json(s.core.create_policy(&p, &ctx, req).await?)))
}

#[utoipa::path(delete, path = "/v1/policies/{name}", tag = "policies", params(("name" = String, Path)),
    responses((status = 204, description = "deleted; applies on the next request"), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn delete(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.core.delete_policy(&p, &ctx, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
