//! The stylesheet, the script and the icon, compiled into the binary (no CDN, no build step).

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::PanelError;

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

pub(crate) async fn serve(Path(file): Path<String>) -> Result<Response, PanelError> {
    let (_, content_type, bytes) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(|| PanelError::page(StatusCode::NOT_FOUND, "there is no such file"))?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], *bytes).into_response())
}
