//! The OpenAPI document, generated from the handlers' annotations and the wire types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Sealbox API", description = "Self-hosted secrets manager. Errors: `{\"error\": {\"code\", \"message\", \"request_id\"}}`."),
    paths(
        routes::sys::health,
        routes::auth::login, routes::auth::logout, routes::auth::whoami, routes::auth::create_workspace,
        routes::secrets::create, routes::secrets::list, routes::secrets::details, routes::secrets::update,
        routes::secrets::delete, routes::secrets::versions, routes::secrets::reveal, routes::secrets::rollback,
        routes::secrets::trash, routes::secrets::restore, routes::secrets::purge, routes::secrets::import,
        routes::members::list, routes::members::add, routes::members::set_role, routes::members::remove,
        routes::tokens::list, routes::tokens::create, routes::tokens::revoke, routes::tokens::revoke_by_value,
        routes::audit::list, routes::audit::verify,
        routes::identities::list, routes::identities::create, routes::identities::details, routes::identities::update,
        routes::identities::delete_identity, routes::identities::set_env, routes::identities::unset_env,
        routes::identities::list_tokens, routes::identities::create_token, routes::identities::revoke_token,
        routes::identities::revoke_token_by_value,
        routes::identities::list_policies, routes::identities::create_policy, routes::identities::delete_policy,
        routes::identities::environment, routes::identities::render,
        routes::actions::list, routes::actions::create, routes::actions::details, routes::actions::update,
        routes::actions::delete_action, routes::actions::run, routes::actions::run_unsaved,
    ),
    // Types only referenced from query parameters are not collected from the paths.
    components(schemas(sealbox_types::AuditOrder)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sbx_...")
                    .build(),
            ),
        );
    }
}
