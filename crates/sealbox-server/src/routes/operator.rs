//! `/v1/sys/backup`: a backup of the whole database, for the server's operators.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Ctx};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(backup))
}

/// The backup file (JSON lines, ciphertext only; see README "Backup, restore and moving to
/// PostgreSQL"). Owners of the server's first workspace only; audited as `server.backup`.
#[utoipa::path(post, path = "/v1/sys/backup", tag = "sys",
    responses((status = 200, description = "the backup file", content_type = "application/x-ndjson", body = String),
        (status = "4XX", body = sealbox_types::ErrorBody)))]
pub(crate) async fn backup(State(s): State<AppState>, Auth(p): Auth, Ctx(ctx): Ctx) -> ApiResult<impl IntoResponse> {
    let file = s.core.backup(&p, &ctx).await?;
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], file))
}
