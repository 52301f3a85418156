//! `/v1/identities`: machine identities, their variables and tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sealbox_types::{
    CreateFederationRequest, CreateIdentityRequest, CreateTokenRequest, CreatedToken, FederationInfo, FederationList,
    IdentityInfo, IdentityList, RevokeTokenRequest, SetEnvRequest, TokenList, UpdateIdentityRequest,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth, Ctx};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(details, update, delete_identity))
        .routes(routes!(set_env, unset_env))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(revoke_token_by_value))
        .routes(routes!(list_federations, create_federation))
        .routes(routes!(delete_federation))
}

#[utoipa::path(get, path = "/v1/identities/{name}/federations", tag = "identities", params(("name" = String, Path)),
    responses((status = 200, body = FederationList), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn list_federations(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<FederationList>> {
    Ok(Json(FederationList {
        federations: s.core.list_federations(&p, &name).await?,
    }))
}

/// Lets the identity trust JWTs of an issuer: `POST /v1/auth/jwt` then exchanges such a JWT for a
/// short-lived token of the identity.
#[utoipa::path(post, path = "/v1/identities/{name}/federations", tag = "identities", params(("name" = String, Path)),
    request_body = CreateFederationRequest,
    responses((status = 201, body = FederationInfo), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn create_federation(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<CreateFederationRequest>,
) -> ApiResult<(StatusCode, Json<FederationInfo>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.core.create_federation(&p, &ctx, &name, &req).await?),
    ))
}

#[utoipa::path(delete, path = "/v1/identities/{name}/federations/{id}", tag = "identities",
    params(("name" = String, Path), ("id" = String, Path)),
    responses((status = 204, description = "removed; its JWTs are refused from now on (tokens already exchanged live on until they expire)"),
        (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn delete_federation(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.core.delete_federation(&p, &ctx, &name, &id).await?;
    Ok(StatusCode::NO_CONTENT)
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
