//! The JSON API under `/v1`: one module per feature, each exporting its own [`OpenApiRouter`].
//! A route and its OpenAPI entry are declared once (`routes!` reads the handler's
//! `#[utoipa::path]`); [`router`] merges them into one router and the document it serves.

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;
use crate::openapi::ApiDoc;

pub mod actions;
pub mod audit;
pub mod auth;
pub mod environment;
pub mod identities;
pub mod members;
pub mod operator;
pub mod policies;
pub mod secrets;
pub mod settings;
pub mod sys;
pub mod tokens;
pub mod trash;

/// Every feature's routes, with the OpenAPI document built from them.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(sys::router())
        .merge(operator::router())
        .merge(auth::router())
        .merge(settings::router())
        .merge(members::router())
        .merge(tokens::router())
        .merge(audit::router())
        .merge(identities::router())
        .merge(policies::router())
        .merge(environment::router())
        .merge(secrets::router())
        .merge(trash::router())
        .merge(actions::router())
}

/// The OpenAPI document served at `/v1/openapi.json`: the application's routes and the seal's
/// (which answer sealed or not, see [`crate::sealing`]).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = api().into_openapi();
    document.merge(crate::sealing::seal_api().into_openapi());
    crate::openapi::complete(document)
}

/// The JSON API of an unsealed server.
pub fn router() -> Router<AppState> {
    api().split_for_parts().0
}
