//! `/v1/members`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sealbox_types::{AddMemberRequest, AddMemberResponse, MemberInfo, MemberList, SetRoleRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth, Ctx};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(set_role, remove))
}

#[utoipa::path(get, path = "/v1/members", tag = "members",
    responses((status = 200, body = MemberList), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn list(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<MemberList>> {
    Ok(Json(MemberList {
        members: s.core.list_members(&p).await?,
    }))
}

#[utoipa::path(post, path = "/v1/members", tag = "members", request_body = AddMemberRequest,
    responses((status = 201, body = AddMemberResponse), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn add(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<AddMemberRequest>,
) -> ApiResult<(StatusCode, Json<AddMemberResponse>)> {
    Ok((StatusCode::CREATED, Json(s.core.add_member(&p, &ctx, req).await?)))
}

#[utoipa::path(patch, path = "/v1/members/{email}", tag = "members", params(("email" = String, Path)), request_body = SetRoleRequest,
    responses((status = 200, body = MemberInfo), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn set_role(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(email): Path<String>,
    ApiJson(req): ApiJson<SetRoleRequest>,
) -> ApiResult<Json<MemberInfo>> {
    Ok(Json(s.core.set_member_role(&p, &ctx, &email, req.role).await?))
}

#[utoipa::path(delete, path = "/v1/members/{email}", tag = "members", params(("email" = String, Path)),
    responses((status = 204, description = "removed, with all their tokens"), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn remove(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(email): Path<String>,
) -> ApiResult<StatusCode> {
    s.core.remove_member(&p, &ctx, &email).await?;
    Ok(StatusCode::NO_CONTENT)
}
