//! `/v1/actions`: saved HTTP calls, e-mails and SQS messages the server runs with secrets.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sealbox_types::{
    ActionInfo, ActionList, ActionRunResponse, CreateActionRequest, RunActionRequest, RunUnsavedActionRequest,
    UpdateActionRequest,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth, Ctx, OptionalApiJson};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        // Matched before `/v1/actions/{name}`: `run` is not a valid action name.
        .routes(routes!(run_unsaved))
        .routes(routes!(details, update, delete_action))
        .routes(routes!(run))
}

#[utoipa::path(get, path = "/v1/actions", tag = "actions",
    responses((status = 200, body = ActionList), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn list(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<ActionList>> {
    Ok(Json(ActionList {
        actions: s.core.list_actions(&p).await?,
    }))
}

/// Defines an action (owners and admins). A field with two secret references, a URL whose host
/// is not written out, or any other problem is refused, naming every bad field.
#[utoipa::path(post, path = "/v1/actions", tag = "actions", request_body = CreateActionRequest,
    responses((status = 201, body = ActionInfo), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<CreateActionRequest>,
) -> ApiResult<(StatusCode, Json<ActionInfo>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.core.create_action(&p, &ctx, &req.name, req.definition).await?),
    ))
}

#[utoipa::path(get, path = "/v1/actions/{name}", tag = "actions", params(("name" = String, Path)),
    responses((status = 200, body = ActionInfo), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn details(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<ActionInfo>> {
    Ok(Json(s.core.get_action(&p, &name).await?))
}

/// Replaces the action's definition (owners and admins).
#[utoipa::path(patch, path = "/v1/actions/{name}", tag = "actions", params(("name" = String, Path)), request_body = UpdateActionRequest,
    responses((status = 200, body = ActionInfo), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn update(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<UpdateActionRequest>,
) -> ApiResult<Json<ActionInfo>> {
    Ok(Json(s.core.update_action(&p, &ctx, &name, req.definition).await?))
}

#[utoipa::path(delete, path = "/v1/actions/{name}", tag = "actions", params(("name" = String, Path)),
    responses((status = 204, description = "deleted"), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn delete_action(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.core.delete_action(&p, &ctx, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs a saved action with `input` for its `{input.KEY}` references (owners, admins, editors,
/// and identities whose policies allow `use` on every referenced secret). The destination's reply
/// comes back with every secret value redacted. 422: the server refused to send (destination not
/// allowed, request invalid, secret missing); 424: the destination failed.
#[utoipa::path(post, path = "/v1/actions/{name}/run", tag = "actions", params(("name" = String, Path)),
    request_body(content = RunActionRequest, description = "optional; `{}` when the action takes no input"),
    responses((status = 200, body = ActionRunResponse), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn run(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    OptionalApiJson(req): OptionalApiJson<RunActionRequest>,
) -> ApiResult<Json<ActionRunResponse>> {
    let input = req.unwrap_or_default().input;
    Ok(Json(s.core.run_action(&p, &ctx, &name, input).await?))
}

/// Runs a definition without saving it. It chooses where the values go, so identities need
/// `read` on every referenced secret, and restricted secrets need an owner or admin.
#[utoipa::path(post, path = "/v1/actions/run", tag = "actions", request_body = RunUnsavedActionRequest,
    responses((status = 200, body = ActionRunResponse), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn run_unsaved(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<RunUnsavedActionRequest>,
) -> ApiResult<Json<ActionRunResponse>> {
    Ok(Json(
        s.core.run_unsaved_action(&p, &ctx, req.definition, req.input).await?,
    ))
}
