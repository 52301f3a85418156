//! `/v1/environment` and `/v1/render`: secrets handed out as variables or rendered into a
//! template.

use axum::Json;
use axum::extract::{Query, State};
use sealbox_types::{EnvironmentResponse, RenderRequest, RenderResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth, Ctx};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(environment))
        .routes(routes!(render))
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
