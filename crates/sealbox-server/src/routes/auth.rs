//! `/v1/auth/*` and `/v1/workspaces`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sealbox_types::{
    CreateWorkspaceRequest, CreateWorkspaceResponse, JwtExchangeRequest, JwtExchangeResponse, LoginRequest,
    LoginResponse, SsoInfo, SsoSettings, SsoTokenRequest, UpdateSsoSettingsRequest, WhoAmI,
};
use secrecy::SecretString;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth, Ctx};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(exchange_jwt))
        .routes(routes!(logout))
        .routes(routes!(whoami))
        .routes(routes!(create_workspace))
        .routes(routes!(sso_info))
        .routes(routes!(sso_token))
        .routes(routes!(sso_settings, update_sso_settings))
}

#[utoipa::path(get, path = "/v1/auth/sso", tag = "auth", security(()),
    responses((status = 200, body = SsoInfo, description = "whether this server offers single sign-on (OpenID Connect); \
        a browser begins it at `/sso/start?workspace=NAME`")))]
pub(crate) async fn sso_info(State(s): State<AppState>) -> Json<SsoInfo> {
    Json(SsoInfo {
        enabled: s.oidc.is_some(),
        issuer: s.oidc.as_ref().map(|o| o.issuer().to_owned()),
    })
}

#[utoipa::path(post, path = "/v1/auth/sso/token", tag = "auth", request_body = SsoTokenRequest, security(()),
    responses((status = 200, body = LoginResponse, description = "a session, for the one-time code a single sign-on \
        handed to `sealbox login --sso` on its loopback address and the verifier of its `cli_challenge`"),
        (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn sso_token(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<SsoTokenRequest>,
) -> ApiResult<Json<LoginResponse>> {
    Ok(Json(s.core.sso_redeem(&ctx, &req.code, &req.verifier).await?))
}

#[utoipa::path(get, path = "/v1/workspace/sso", tag = "auth",
    responses((status = 200, body = SsoSettings), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn sso_settings(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<SsoSettings>> {
    Ok(Json(s.core.sso_settings(&p).await?))
}

#[utoipa::path(patch, path = "/v1/workspace/sso", tag = "auth", request_body = UpdateSsoSettingsRequest,
    responses((status = 200, body = SsoSettings), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn update_sso_settings(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<UpdateSsoSettingsRequest>,
) -> ApiResult<Json<SsoSettings>> {
    Ok(Json(s.core.update_sso_settings(&p, &ctx, req).await?))
}

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest, security(()),
    responses((status = 200, body = LoginResponse), (status = "4XX", body = sealbox_types::ErrorBody),
        (status = 503, description = "`auth.busy`: too many passwords are being checked at once; retry after `Retry-After`",
            body = sealbox_types::ErrorBody)))]
pub(crate) async fn login(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let password = SecretString::from(req.password);
    Ok(Json(
        s.core
            .login(&ctx, &req.email, password, req.workspace.as_deref())
            .await?,
    ))
}

/// Exchanges a platform's JWT (GitHub Actions, GitLab CI, a Kubernetes service account ...) for
/// a short-lived token of an identity that trusts its issuer (`/v1/identities/{name}/federations`).
/// Sends no token. The JWT is never logged, audited or repeated in an error.
#[utoipa::path(post, path = "/v1/auth/jwt", tag = "auth", request_body = JwtExchangeRequest, security(()),
    responses((status = 200, body = JwtExchangeResponse),
        (status = 401, description = "`auth.jwt_*`: the token was refused; the code says why", body = sealbox_types::ErrorBody),
        (status = 424, description = "`auth.jwt_keys_unavailable`: the issuer's keys could not be fetched", body = sealbox_types::ErrorBody),
        (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn exchange_jwt(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<JwtExchangeRequest>,
) -> ApiResult<Json<JwtExchangeResponse>> {
    let jwt = SecretString::from(req.jwt);
    Ok(Json(
        s.core.exchange_jwt(&ctx, &req.workspace, &req.identity, jwt).await?,
    ))
}

#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "the calling token is revoked"), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn logout(State(s): State<AppState>, Auth(p): Auth, Ctx(ctx): Ctx) -> ApiResult<StatusCode> {
    s.core.logout(&p, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/auth/whoami", tag = "auth",
    responses((status = 200, body = WhoAmI), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn whoami(State(s): State<AppState>, Auth(p): Auth) -> Json<WhoAmI> {
    Json(s.core.whoami(&p))
}

#[utoipa::path(post, path = "/v1/workspaces", tag = "auth", request_body = CreateWorkspaceRequest,
    responses((status = 201, body = CreateWorkspaceResponse), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn create_workspace(
    State(s): State<AppState>,
    Auth(p): Auth,
    Ctx(ctx): Ctx,
    ApiJson(req): ApiJson<CreateWorkspaceRequest>,
) -> ApiResult<(StatusCode, Json<CreateWorkspaceResponse>)> {
    let token = s.core.create_workspace(&p, &ctx, &req.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreateWorkspaceResponse {
            workspace: req.name,
            token,
        }),
    ))
}
