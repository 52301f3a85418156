//! `/v1/identities`, `/v1/policies` and `/v1/environment`: machine access.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use sealbox_types::{
    CreateIdentityRequest, CreatePolicyRequest, CreateTokenRequest, CreatedToken, EnvironmentResponse, IdentityInfo,
    IdentityList, PolicyInfo, PolicyList, RenderRequest, RenderResponse, RevokeTokenRequest, SetEnvRequest, TokenList,
    UpdateIdentityRequest,
};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth, Ctx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/identities", get(list).post(create))
        .route(
            "/v1/identities/{name}",
            get(details).patch(update).delete(delete_identity),
        )
        .route("/v1/identities/{name}/env/{key}", put(set_env).delete(unset_env))
        .route("/v1/identities/{name}/tokens", get(list_tokens).post(create_token))
        .route("/v1/identities/{name}/tokens/{id}", delete(revoke_token))
        .route(
            "/v1/identities/{name}/tokens/revoke",
            axum::routing::post(revoke_token_by_value),
        )
        .route("/v1/policies", get(list_policies).post(create_policy))
        .route("/v1/policies/{name}", delete(delete_policy))
        .route("/v1/environment", get(environment))
        .route("/v1/render", axum::routing::post(render))
}

#[utoipa::path(get, path = "/v1/identities", tag = "identities",
    responses((status = 200, body = IdentityList), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn list(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<IdentityList>> {
    Ok(Json(IdentityList {
        identities: s.core.list_identities(&p).await?,
    }))
}

#[utoipa::path(post, path = "/v1/identities", tag = "identities", request_body = CreateIdentityRequest,
    responses((status = 201, body = IdentityInfo), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<CreateIdentityRequest>,
) -> ApiResult<(StatusCode, Json<IdentityInfo>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.core.create_identity(&p, &ctx, &req.name, req.tags).await?),
    ))
}

#[utoipa::path(get, path = "/v1/identities/{name}", tag = "identities", params(("name" = String, Path)),
    responses((status = 200, body = IdentityInfo), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn details(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<IdentityInfo>> {
    Ok(Json(s.core.get_identity(&p, &name).await?))
}

#[utoipa::path(patch, path = "/v1/identities/{name}", tag = "identities", params(("name" = String, Path)), request_body = UpdateIdentityRequest,
    responses((status = 200, body = IdentityInfo), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn update(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<UpdateIdentityRequest>,
) -> ApiResult<Json<IdentityInfo>> {
    Ok(Json(s.core.set_identity_tags(&p, &ctx, &name, req.tags).await?))
}

#[utoipa::path(delete, path = "/v1/identities/{name}", tag = "identities", params(("name" = String, Path)),
    responses((status = 204, description = "deleted with its variables and tokens"), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn delete_identity(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.core.delete_identity(&p, &ctx, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/v1/identities/{name}/env/{key}", tag = "identities",
    params(("name" = String, Path), ("key" = String, Path)), request_body = SetEnvRequest,
    responses((status = 200, body = IdentityInfo), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn set_env(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path((name, key)): Path<(String, String)>,
    ApiJson(req): ApiJson<SetEnvRequest>,
) -> ApiResult<Json<IdentityInfo>> {
    Ok(Json(s.core.set_identity_env(&p, &ctx, &name, &key, &req.value).await?))
}

#[utoipa::path(delete, path = "/v1/identities/{name}/env/{key}", tag = "identities",
    params(("name" = String, Path), ("key" = String, Path)),
    responses((status = 200, body = IdentityInfo), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn unset_env(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path((name, key)): Path<(String, String)>,
) -> ApiResult<Json<IdentityInfo>> {
    Ok(Json(s.core.unset_identity_env(&p, &ctx, &name, &key).await?))
}

#[utoipa::path(get, path = "/v1/identities/{name}/tokens", tag = "identities", params(("name" = String, Path)),
    responses((status = 200, body = TokenList), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn list_tokens(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<TokenList>> {
    Ok(Json(TokenList {
        tokens: s.core.list_identity_tokens(&p, &name).await?,
    }))
}

#[utoipa::path(post, path = "/v1/identities/{name}/tokens", tag = "identities", params(("name" = String, Path)), request_body = CreateTokenRequest,
    responses((status = 201, body = CreatedToken), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn create_token(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let token = s
        .core
        .create_identity_token(&p, &ctx, &name, &req.name, req.expires_in_seconds)
        .await?;
    Ok((StatusCode::CREATED, Json(token)))
}

#[utoipa::path(delete, path = "/v1/identities/{name}/tokens/{id}", tag = "identities",
    params(("name" = String, Path), ("id" = String, Path)),
    responses((status = 204, description = "revoked; effective on the next request"), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn revoke_token(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.core.revoke_identity_token(&p, &ctx, &name, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The token goes in the body, not the path: request paths are logged.
#[utoipa::path(post, path = "/v1/identities/{name}/tokens/revoke", tag = "identities",
    params(("name" = String, Path)), request_body = RevokeTokenRequest,
    responses((status = 204, description = "revoked; effective on the next request"), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn revoke_token_by_value(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<RevokeTokenRequest>,
) -> ApiResult<StatusCode> {
    s.core
        .revoke_identity_token_by_value(&p, &ctx, &name, &req.token)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/policies", tag = "policies",
    responses((status = 200, body = PolicyList), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn list_policies(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<PolicyList>> {
    Ok(Json(PolicyList {
        policies: s.core.list_policies(&p).await?,
    }))
}

#[utoipa::path(post, path = "/v1/policies", tag = "policies", request_body = CreatePolicyRequest,
    responses((status = 201, body = PolicyInfo), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn create_policy(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<CreatePolicyRequest>,
) -> ApiResult<(StatusCode, Json<PolicyInfo>)> {
    Ok((StatusCode::CREATED, Json(s.core.create_policy(&p, &ctx, req).await?)))
}

#[utoipa::path(delete, path = "/v1/policies/{name}", tag = "policies", params(("name" = String, Path)),
    responses((status = 204, description = "deleted; applies on the next request"), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn delete_policy(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.core.delete_policy(&p, &ctx, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EnvironmentParams {
    /// Only these variables, e.g. `API_KEY,DB_URL`: the other secrets are not read, audited or
    /// marked as used. A name the caller has no variable for is refused (400, `environment.only_invalid`).
    only: Option<String>,
}

/// Every secret the caller may read, as `NAME -> value`, with an identity's own variables laid
/// over them, and which of them are secrets. Each value handed out is audited.
#[utoipa::path(get, path = "/v1/environment", tag = "identities", params(EnvironmentParams),
    responses((status = 200, body = EnvironmentResponse), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn environment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Query(q): Query<EnvironmentParams>,
) -> ApiResult<Json<EnvironmentResponse>> {
    let only: Option<Vec<String>> = q.only.map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect()
    });
    Ok(Json(s.core.environment(&p, &ctx, only.as_deref()).await?))
}

/// Renders `{secrets.NAME}` and `{secrets.NAME.field}` with the values the caller may read;
/// every bad reference is reported with its line and nothing is rendered half way.
#[utoipa::path(post, path = "/v1/render", tag = "identities", request_body = RenderRequest,
    responses((status = 200, body = RenderResponse), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn render(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<RenderRequest>,
) -> ApiResult<Json<RenderResponse>> {
    Ok(Json(RenderResponse {
        rendered: s.core.render(&p, &ctx, &req.template).await?,
    }))
}
