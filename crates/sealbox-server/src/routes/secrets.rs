//! `/v1/secrets` and `/v1/import`: secrets, their versions and values.

use axum::Json;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use sealbox_types::{
    CreateSecretRequest, RevealRequest, RevealResponse, RollbackRequest, SecretDetails, SecretList, SecretListQuery,
    SecretVersionList, UpdateSecretRequest, codes,
};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Auth, Ctx, OptionalApiJson};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(details, update, delete))
        .routes(routes!(versions))
        .routes(routes!(reveal))
        .routes(routes!(rollback))
        .routes(routes!(import))
}

#[utoipa::path(post, path = "/v1/secrets", tag = "secrets", request_body = CreateSecretRequest,
    responses((status = 201, body = SecretDetails), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<CreateSecretRequest>,
) -> ApiResult<(StatusCode, Json<SecretDetails>)> {
    Ok((StatusCode::CREATED, Json(s.core.create_secret(&p, &ctx, req).await?)))
}

/// `?prefix=P&type=T&tag=K=V&tag=K2=V2`; `tag` may repeat, so the query is read as pairs.
#[utoipa::path(get, path = "/v1/secrets", tag = "secrets",
    params(SecretListQuery),
    responses((status = 200, body = SecretList), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn list(
    State(s): State<AppState>,
    Auth(p): Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<SecretList>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or_default())
        .map_err(|_| ApiError::bad_request(codes::REQUEST_INVALID, "the query string is not valid URL encoding"))?;
    let mut query = SecretListQuery::default();
    for (key, value) in pairs {
        match key.as_str() {
            "prefix" => query.prefix = Some(value),
            "type" => query.secret_type = Some(value),
            "tag" => query.tags.push(value),
            other => {
                return Err(ApiError::bad_request(
                    codes::REQUEST_INVALID,
                    format!("unknown query parameter {other:?}; allowed: prefix, type, tag"),
                ));
            }
        }
    }
    Ok(Json(SecretList {
        secrets: s.core.list_secrets(&p, query).await?,
    }))
}

#[utoipa::path(get, path = "/v1/secrets/{name}", tag = "secrets", params(("name" = String, Path)),
    responses((status = 200, body = SecretDetails), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn details(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<SecretDetails>> {
    Ok(Json(s.core.get_secret(&p, &name).await?))
}

#[utoipa::path(patch, path = "/v1/secrets/{name}", tag = "secrets", params(("name" = String, Path)), request_body = UpdateSecretRequest,
    responses((status = 200, body = SecretDetails), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn update(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<UpdateSecretRequest>,
) -> ApiResult<Json<SecretDetails>> {
    Ok(Json(s.core.update_secret(&p, &ctx, &name, req).await?))
}

#[utoipa::path(delete, path = "/v1/secrets/{name}", tag = "secrets", params(("name" = String, Path)),
    responses((status = 200, description = "moved to the trash", body = SecretDetails), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn delete(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
) -> ApiResult<Json<SecretDetails>> {
    Ok(Json(s.core.delete_secret(&p, &ctx, &name).await?))
}

#[utoipa::path(get, path = "/v1/secrets/{name}/versions", tag = "secrets", params(("name" = String, Path)),
    responses((status = 200, body = SecretVersionList), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn versions(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<SecretVersionList>> {
    Ok(Json(s.core.list_versions(&p, &name).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VersionParam {
    version: Option<u64>,
}

/// The body is optional: `{}` or none reveals the current version; `?version=N` works too.
#[utoipa::path(post, path = "/v1/secrets/{name}/reveal", tag = "secrets",
    params(("name" = String, Path), ("version" = Option<u64>, Query)), request_body(content = Option<RevealRequest>),
    responses((status = 200, body = RevealResponse), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn reveal(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    Query(q): Query<VersionParam>,
    OptionalApiJson(body): OptionalApiJson<RevealRequest>,
) -> ApiResult<Json<RevealResponse>> {
    let version = body.and_then(|b| b.version).or(q.version);
    Ok(Json(s.core.reveal(&p, &ctx, &name, version).await?))
}

#[utoipa::path(post, path = "/v1/secrets/{name}/rollback", tag = "secrets", params(("name" = String, Path)), request_body = RollbackRequest,
    responses((status = 200, body = SecretDetails), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn rollback(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<RollbackRequest>,
) -> ApiResult<Json<SecretDetails>> {
    Ok(Json(
        s.core.rollback(&p, &ctx, &name, req.to, req.expected_version).await?,
    ))
}

/// Creates or updates text secrets from `NAME -> value` pairs, tagging those it creates; compares
/// server-side where the caller may reveal (never restricted values); audited as `secret.import`.
#[utoipa::path(post, path = "/v1/import", tag = "secrets", request_body = sealbox_types::ImportRequest,
    responses((status = 200, body = sealbox_types::ImportResponse), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn import(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<sealbox_types::ImportRequest>,
) -> ApiResult<Json<sealbox_types::ImportResponse>> {
    Ok(Json(s.core.import(&p, &ctx, req).await?))
}
