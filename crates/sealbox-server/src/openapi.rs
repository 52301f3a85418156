//! The OpenAPI document's frame: title, description and the bearer scheme. Its paths and their
//! schemas come from the feature routers in [`crate::routes`], where each route is declared once.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Sealbox API", description = "Self-hosted secrets manager. Errors: `{\"error\": {\"code\", \"message\", \"request_id\"}}`."),
    // Types only referenced from query parameters are not collected from the paths.
    components(schemas(sealbox_types::AuditOrder)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub(crate) struct ApiDoc;

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
