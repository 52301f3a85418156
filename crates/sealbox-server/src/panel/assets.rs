//! The stylesheet, the script and the icon, compiled into the binary (no CDN, no build step).

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::PanelError;
use crate::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/static/{file}", get(serve))
}

const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/app.js"),
    ),
    ("icon.svg", "image/svg+xml", include_bytes!("../../static/icon.svg")),
];

async fn serve(Path(file): Path<String>) -> Result<Response, PanelError> {
    let (_, content_type, bytes) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(|| PanelError::page(StatusCode::NOT_FOUND, "there is no such file"))?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], *bytes).into_response())
}
