//! `/v1/audit`.

use axum::Json;
use axum::extract::{Query, State};
use sealbox_types::{AuditList, AuditQuery, AuditVerifyResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Auth;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(verify))
}

#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditList), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn list(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<AuditList>> {
    Ok(Json(s.core.list_audit_page(&p, query).await?))
}

#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses((status = 200, body = AuditVerifyResponse), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn verify(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<AuditVerifyResponse>> {
    Ok(Json(s.core.verify_audit(&p).await?))
}
