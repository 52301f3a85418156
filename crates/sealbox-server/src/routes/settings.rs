//! `/v1/workspace/settings`: the caller's workspace's token lifetimes.

use axum::Json;
use axum::extract::State;
use sealbox_types::{UpdateWorkspaceSettingsRequest, WorkspaceSettings};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth, Ctx};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, update_settings))
}

#[utoipa::path(get, path = "/v1/workspace/settings", tag = "workspace",
    responses((status = 200, body = WorkspaceSettings), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn get_settings(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<WorkspaceSettings>> {
    Ok(Json(s.core.workspace_settings(&p).await?))
}

/// Owners and admins. A field left out stays as it is; `null` removes it. Tokens that exist keep
/// their expiry.
#[utoipa::path(patch, path = "/v1/workspace/settings", tag = "workspace", request_body = UpdateWorkspaceSettingsRequest,
    responses((status = 200, body = WorkspaceSettings), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn update_settings(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<UpdateWorkspaceSettingsRequest>,
) -> ApiResult<Json<WorkspaceSettings>> {
    Ok(Json(s.core.update_workspace_settings(&p, &ctx, &req).await?))
}
