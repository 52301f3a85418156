//! `/v1/audit`.

use axum::Json;
use axum::extract::{Query, State};
use sealbox_core::AuditQuery;
use sealbox_types::{AuditList, AuditOrder, AuditVerifyResponse};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Auth;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(verify))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditParams {
    /// An RFC 3339 time, or a time back from now such as `30m`, `1h`, `7d` or `2w`.
    since: Option<String>,
    /// As `since`; only events before it.
    until: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    /// e.g. `secret:API_KEY`.
    target: Option<String>,
    /// Only events after this sequence number (to page on, oldest first).
    after: Option<u64>,
    /// Only events before this sequence number (to page back, newest first).
    before: Option<u64>,
    /// `oldest` (default) or `newest` first.
    order: Option<AuditOrder>,
    /// 1-1000, default 100. `more` in the answer says whether more events match.
    limit: Option<u64>,
}

#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = AuditList), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn list(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<AuditParams>,
) -> ApiResult<Json<AuditList>> {
    let query = AuditQuery {
        since: q.since,
        until: q.until,
        actor: q.actor,
        action: q.action,
        target: q.target,
        after: q.after,
        before: q.before,
        newest_first: q.order == Some(AuditOrder::Newest),
        limit: q.limit,
    };
    Ok(Json(s.core.list_audit_page(&p, query).await?))
}

#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses((status = 200, body = AuditVerifyResponse), (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn verify(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<AuditVerifyResponse>> {
    Ok(Json(s.core.verify_audit(&p).await?))
}
