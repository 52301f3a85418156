//! The OpenAPI document's frame: title, description and the bearer scheme. Its paths and their
//! schemas come from the feature routers in [`crate::routes`], where each route is declared once.

use sealbox_core::kinds::{self, Input};
use utoipa::openapi::schema::{AdditionalProperties, AnyOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
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

/// The document built from the feature routers, completed with what derives from their schemas
/// (so it runs after they are merged in, not as a modifier of the frame).
pub(crate) fn complete(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    SecretValues.modify(&mut document);
    document
}

/// The `SecretValue` schema, derived from each type's field descriptions: a string for `text`,
/// an object of its fields for each structured type. The request and reveal bodies' `value`
/// refers to it.
struct SecretValues;

fn field_schema(field: &kinds::FieldSpec) -> ObjectBuilder {
    let described = ObjectBuilder::new().description(Some(format!(
        "{}{}",
        field.label,
        if field.sensitive { " (sensitive)" } else { "" }
    )));
    match field.input {
        Input::Number => described
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(65535)),
        Input::Choice(choices) => described
            .schema_type(Type::String)
            .enum_values(Some(choices.iter().copied())),
        _ => described.schema_type(Type::String).max_length(Some(field.max_chars)),
    }
}

impl Modify for SecretValues {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut any = AnyOfBuilder::new().description(Some(
            "A secret's value: a string for `text`, an object of the type's fields for the others.",
        ));
        for kind in kinds::all() {
            let name = kind.secret_type().as_str();
            let schema = if kind.structured() {
                let mut object = ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .title(Some(name))
                    .additional_properties(Some(AdditionalProperties::FreeForm(false)));
                for field in kind.fields() {
                    object = object.property(field.name, field_schema(field));
                    if field.required {
                        object = object.required(field.name);
                    }
                }
                object
            } else {
                kind.fields().iter().fold(
                    ObjectBuilder::new().schema_type(Type::String).title(Some(name)),
                    |s, f| s.min_length(Some(1)).max_length(Some(f.max_chars)),
                )
            };
            any = any.item(schema);
        }
        components
            .schemas
            .insert("SecretValue".into(), RefOr::T(Schema::AnyOf(any.build())));
        for body in ["CreateSecretRequest", "UpdateSecretRequest", "RevealResponse"] {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(body)
                && object.properties.contains_key("value")
            {
                object
                    .properties
                    .insert("value".into(), Ref::from_schema_name("SecretValue").into());
            }
        }
    }
}
