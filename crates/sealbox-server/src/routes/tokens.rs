//! `/v1/tokens`: the caller's personal access tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sealbox_types::{CreateTokenRequest, CreatedToken, RevokeTokenRequest, TokenList};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth, Ctx};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
        .routes(routes!(revoke_by_value))
}

#[utoipa::path(get, path = "/v1/tokens", tag = "tokens",
    responses((status = 200, body = TokenList), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn list(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<TokenList>> {
    Ok(Json(TokenList {
        tokens: s.core.list_tokens(&p).await?,
    }))
}

#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body = CreateTokenRequest,
    responses((status = 201, body = CreatedToken), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.core.create_token(&p, &ctx, &req.name, req.expires_in_seconds).await?),
    ))
}

#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 204, description = "revoked; effective on the next request"), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn revoke(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.core.revoke_token(&p, &ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The token goes in the body, not the path: request paths are logged.
#[utoipa::path(post, path = "/v1/tokens/revoke", tag = "tokens", request_body = RevokeTokenRequest,
    responses((status = 204, description = "revoked; effective on the next request"), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn revoke_by_value(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<RevokeTokenRequest>,
) -> ApiResult<StatusCode> {
    s.core.revoke_token_by_value(&p, &ctx, &req.token).await?;
    Ok(StatusCode::NO_CONTENT)
}
