//! The Secrets page and a secret's page (reveal, edit, versions, rollback, delete).

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use sealbox_core::{CoreError, ErrorClass};
use sealbox_types::{CreateSecretRequest, SecretDetails, SecretType, UpdateSecretRequest, Visibility, codes};
use serde_json::{Value, json};

use super::auth::Form;
use super::forms::{Fields, field_errors, parse_metadata, parse_tags, tags_text};
use super::value_form::{self, Errors, KindView, ValueFields, type_label};
use super::{Layout, PanelResult, Session, render, see_other, seg, short_time};
use crate::AppState;
use crate::extract::Ctx;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list))
        .route("/secrets", get(list).post(create))
        .route("/secrets/{name}", get(show))
        .route("/secrets/{name}/edit", post(update))
        .route("/secrets/{name}/reveal", post(reveal))
        .route("/secrets/{name}/rollback", post(rollback))
        .route("/secrets/{name}/delete", post(delete))
}

/// A secret as a row of the secrets table (and of the trash).
#[derive(Clone)]
pub(crate) struct SecretView {
    pub(super) name: String,
    pub(super) href: String,
    pub(super) type_label: &'static str,
    pub(super) visibility: &'static str,
    pub(super) description: String,
    pub(super) tags: Vec<String>,
    pub(super) version: u64,
    pub(super) updated: String,
    pub(super) updated_by: String,
    pub(super) deleted: String,
    pub(super) purge_after: String,
    pub(super) restore_action: String,
    pub(super) purge_action: String,
}

pub(super) fn secret_view(d: &SecretDetails) -> SecretView {
    SecretView {
        name: d.name.clone(),
        href: format!("/secrets/{}", seg(&d.name)),
        type_label: type_label(d.secret_type),
        visibility: d.visibility.as_str(),
        description: d.description.clone(),
        tags: d.tags.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        version: d.version,
        updated: short_time(&d.updated_at),
        updated_by: actor_name(&d.updated_by),
        deleted: d.deleted_at.as_deref().map(short_time).unwrap_or_default(),
        purge_after: d.purge_after.as_deref().map(short_time).unwrap_or_default(),
        restore_action: format!("/trash/{}/restore", seg(&d.name)),
        purge_action: format!("/trash/{}/purge", seg(&d.name)),
    }
}

/// `member:ann@example.com` as `ann@example.com`.
fn actor_name(label: &str) -> String {
    label.strip_prefix("member:").unwrap_or(label).to_owned()
}

/// What was typed into the "+ New Secret" form (kept when it comes back with errors).
#[derive(Default)]
pub(crate) struct NewSecret {
    name: String,
    secret_type: String,
    visibility: String,
    description: String,
    tags: String,
    metadata: String,
    value: ValueFields,
}

/// Sorts a core refusal into the form field it is about.
fn core_field_errors(e: &CoreError, errors: &mut Errors) {
    let field = match e.code {
        codes::SECRET_NAME_INVALID | codes::SECRET_NAME_TAKEN | codes::SECRET_NAME_IN_TRASH => "name",
        codes::SECRET_DESCRIPTION_INVALID => "description",
        codes::SECRET_METADATA_INVALID => "metadata",
        codes::SECRET_TAGS_INVALID => "tags",
        codes::SECRET_VALUE_INVALID => {
            errors.extend(field_errors(&e.message, "value"));
            return;
        }
        _ => "general",
    };
    errors.insert(field.into(), e.message.clone());
}

fn is_form_error(e: &CoreError) -> bool {
    matches!(e.class, ErrorClass::Invalid | ErrorClass::Conflict)
}

#[derive(askama::Template)]
#[template(path = "secrets.html")]
struct SecretsPage {
    l: Layout,
    rows: Vec<SecretView>,
    total: usize,
    q: String,
    tag: String,
    secret_type: String,
    visibility: String,
    tag_options: Vec<String>,
    panel_open: bool,
    form: NewSecret,
    /// Every type's value inputs; the form shows the selected type's.
    kinds: Vec<KindView>,
    types: Vec<(&'static str, &'static str)>,
    errors: Errors,
}

pub(crate) async fn list(State(s): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> PanelResult {
    let q = Fields::query(raw.as_deref());
    let form = NewSecret {
        secret_type: "text".into(),
        visibility: "masked".into(),
        value: ValueFields::defaults(),
        ..Default::default()
    };
    let open = q.get("new") == "1";
    secrets_page(&s, &session, &q, open, form, Errors::new(), StatusCode::OK).await
}

async fn secrets_page(
    s: &AppState,
    session: &Session,
    q: &Fields,
    panel_open: bool,
    form: NewSecret,
    errors: Errors,
    status: StatusCode,
) -> PanelResult {
    let all = s
        .core
        .list_secrets(&session.principal, sealbox_types::SecretListQuery::default())
        .await?;
    let tag_options: BTreeSet<String> = all
        .iter()
        .flat_map(|d| d.tags.iter().map(|(k, v)| format!("{k}={v}")))
        .collect();
    let search = q.get("q").trim().to_lowercase();
    let (tag, secret_type, visibility) = (q.get("tag"), q.get("type"), q.get("visibility"));
    let rows: Vec<SecretView> = all
        .iter()
        .filter(|d| search.is_empty() || d.name.to_lowercase().contains(&search))
        .filter(|d| secret_type.is_empty() || d.secret_type.as_str() == secret_type)
        .filter(|d| visibility.is_empty() || d.visibility.as_str() == visibility)
        .filter(|d| {
            tag.is_empty()
                || tag
                    .split_once('=')
                    .is_some_and(|(k, v)| d.tags.get(k).is_some_and(|x| x == v))
        })
        .map(secret_view)
        .collect();
    let page = SecretsPage {
        l: Layout::new(session, "secrets", "Secrets").with_notice(q.opt("notice")),
        rows,
        total: all.len(),
        q: q.owned("q"),
        tag: tag.to_owned(),
        secret_type: secret_type.to_owned(),
        visibility: visibility.to_owned(),
        tag_options: tag_options.into_iter().collect(),
        panel_open,
        kinds: value_form::all_kind_views(&form.value),
        types: value_form::type_options(),
        form,
        errors,
    };
    render(status, &page)
}

pub(crate) async fn create(State(s): State<AppState>, Ctx(ctx): Ctx, form: Form) -> PanelResult {
    let f = &form.fields;
    let typed = NewSecret {
        name: f.get("name").trim().to_owned(),
        secret_type: f.owned("type"),
        visibility: f.owned("visibility"),
        description: f.owned("description"),
        tags: f.owned("tags"),
        metadata: f.owned("metadata"),
        value: ValueFields::from_fields(f),
    };
    let errors = match create_request(&typed) {
        Ok(req) => match s.core.create_secret(&form.session.principal, &ctx, req).await {
            Ok(d) => return Ok(see_other(&format!("/secrets/{}?notice=created", seg(&d.name)))),
            Err(e) if is_form_error(&e) => {
                let mut errors = Errors::new();
                core_field_errors(&e, &mut errors);
                errors
            }
            Err(e) => return Err(e.into()),
        },
        Err(errors) => errors,
    };
    let q = Fields::default();
    secrets_page(&s, &form.session, &q, true, typed, errors, StatusCode::BAD_REQUEST).await
}

/// The API request the "+ New Secret" form describes, or the fields it could not read.
fn create_request(typed: &NewSecret) -> Result<CreateSecretRequest, Errors> {
    let mut errors = Errors::new();
    let secret_type = SecretType::parse(&typed.secret_type).unwrap_or_else(|| {
        let types: Vec<_> = value_form::type_options().into_iter().map(|(_, label)| label).collect();
        errors.insert("type".into(), format!("choose a type: {}", types.join(", ")));
        SecretType::Text
    });
    let visibility = Visibility::parse(&typed.visibility).unwrap_or_else(|| {
        errors.insert("visibility".into(), "choose masked or restricted".into());
        Visibility::Masked
    });
    let value = typed.value.to_value(secret_type, &mut errors);
    let tags = parse_tags(&typed.tags).unwrap_or_else(|e| {
        errors.insert("tags".into(), e);
        BTreeMap::new()
    });
    let metadata = parse_metadata(&typed.metadata).unwrap_or_else(|e| {
        errors.insert("metadata".into(), e);
        None
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(CreateSecretRequest {
        name: typed.name.clone(),
        secret_type,
        value,
        visibility: Some(visibility),
        description: Some(typed.description.clone()),
        metadata,
        tags: Some(tags),
    })
}

/// A version row with its rollback form.
struct VersionView {
    version: u64,
    created: String,
    created_by: String,
    current: bool,
}

/// The edit form: description, tags and metadata start from the stored ones; the value fields
/// start empty (a stored value is never put into the page).
struct EditForm {
    description: String,
    tags: String,
    metadata: String,
    value: ValueFields,
}

#[derive(askama::Template)]
#[template(path = "secret.html")]
struct SecretPage {
    l: Layout,
    d: SecretDetails,
    base: String,
    type_label: &'static str,
    restricted: bool,
    created: String,
    created_by: String,
    updated: String,
    updated_by: String,
    details: Vec<(String, String)>,
    tags: Vec<String>,
    metadata: String,
    versions: Vec<VersionView>,
    edit: EditForm,
    /// The type's value inputs, with what was typed.
    kind: KindView,
    errors: Errors,
    delete_open: bool,
    delete_error: Option<String>,
    reveal_seconds: u32,
}

pub(crate) async fn show(
    State(s): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> PanelResult {
    let q = Fields::query(raw.as_deref());
    let d = s.core.get_secret(&session.principal, &name).await?;
    let edit = EditForm {
        description: d.description.clone(),
        tags: tags_text(&d.tags),
        metadata: metadata_text(&d.metadata),
        value: ValueFields::starting_with(&d.details),
    };
    let l = Layout::new(&session, "secrets", d.name.clone()).with_notice(q.opt("notice"));
    let open = q.get("delete") == "1";
    secret_page(&s, &session, l, d, edit, Errors::new(), open, None, StatusCode::OK).await
}

fn metadata_text(v: &Value) -> String {
    match v {
        Value::Object(m) if m.is_empty() => String::new(),
        Value::Null => String::new(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

#[allow(clippy::too_many_arguments)] // the page's parts; a builder would only rename them
async fn secret_page(
    s: &AppState,
    session: &Session,
    l: Layout,
    d: SecretDetails,
    edit: EditForm,
    errors: Errors,
    delete_open: bool,
    delete_error: Option<String>,
    status: StatusCode,
) -> PanelResult {
    let versions = s.core.list_versions(&session.principal, &d.name).await?;
    let mut rows: Vec<_> = versions.versions.iter().collect();
    rows.sort_by_key(|v| std::cmp::Reverse(v.version));
    let versions = rows
        .into_iter()
        .map(|v| VersionView {
            version: v.version,
            created: short_time(&v.created_at),
            created_by: actor_name(&v.created_by),
            current: v.version == versions.current_version,
        })
        .collect();
    let details = value_form::details(d.secret_type, &d.details);
    let kind = value_form::kind_view(sealbox_core::kinds::kind_of(d.secret_type), &edit.value, true);
    let page = SecretPage {
        l,
        base: format!("/secrets/{}", seg(&d.name)),
        type_label: type_label(d.secret_type),
        restricted: d.visibility == Visibility::Restricted,
        created: short_time(&d.created_at),
        created_by: actor_name(&d.created_by),
        updated: short_time(&d.updated_at),
        updated_by: actor_name(&d.updated_by),
        details,
        tags: d.tags.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        metadata: metadata_text(&d.metadata),
        versions,
        edit,
        kind,
        errors,
        delete_open,
        delete_error,
        reveal_seconds: s.panel.reveal_seconds,
        d,
    };
    render(status, &page)
}

pub(crate) async fn update(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    form: Form,
) -> PanelResult {
    let p = &form.session.principal;
    let f = &form.fields;
    let d = s.core.get_secret(p, &name).await?;
    let edit = EditForm {
        description: f.owned("description"),
        tags: f.owned("tags"),
        metadata: f.owned("metadata"),
        value: ValueFields::from_fields(f),
    };
    let expected_version = f.get("version").parse::<u64>().ok();
    let errors = match update_request(&d, &edit, expected_version) {
        Ok(req) => match s.core.update_secret(p, &ctx, &name, req).await {
            Ok(d) => return Ok(see_other(&format!("/secrets/{}?notice=updated", seg(&d.name)))),
            Err(e) if is_form_error(&e) => {
                let mut errors = Errors::new();
                if e.code == codes::SECRET_VERSION_CONFLICT {
                    errors.insert(
                        "general".into(),
                        "someone changed this secret after you opened it; reload the page and make your change again"
                            .into(),
                    );
                } else {
                    core_field_errors(&e, &mut errors);
                }
                errors
            }
            Err(e) => return Err(e.into()),
        },
        Err(errors) => errors,
    };
    let l = Layout::new(&form.session, "secrets", d.name.clone());
    let status = StatusCode::BAD_REQUEST;
    secret_page(&s, &form.session, l, d, edit, errors, false, None, status).await
}

/// The update the edit form asks for: only what changed, so saving an untouched form records
/// nothing (and says so).
fn update_request(
    d: &SecretDetails,
    edit: &EditForm,
    expected_version: Option<u64>,
) -> Result<UpdateSecretRequest, Errors> {
    let mut errors = Errors::new();
    let value = if edit.value.is_empty(d.secret_type) {
        None
    } else {
        Some(edit.value.to_value(d.secret_type, &mut errors))
    };
    // The form shows the stored tags as `k=v, ...` text and the description in a one-line input
    // (which drops line breaks), so neither always reads back as stored: a field that comes back
    // as the page showed it is unchanged and left out, instead of re-parsed into something else.
    let tags_untouched = edit.tags == tags_text(&d.tags);
    let tags = if tags_untouched {
        d.tags.clone()
    } else {
        parse_tags(&edit.tags).unwrap_or_else(|e| {
            errors.insert("tags".into(), e);
            BTreeMap::new()
        })
    };
    let description_untouched =
        edit.description == d.description || edit.description == d.description.replace(['\r', '\n'], "");
    let metadata = parse_metadata(&edit.metadata)
        .unwrap_or_else(|e| {
            errors.insert("metadata".into(), e);
            None
        })
        .unwrap_or_else(|| json!({}));
    if !errors.is_empty() {
        return Err(errors);
    }
    let current_metadata = if d.metadata.is_null() {
        json!({})
    } else {
        d.metadata.clone()
    };
    let req = UpdateSecretRequest {
        value,
        description: (!description_untouched).then(|| edit.description.clone()),
        metadata: (metadata != current_metadata).then_some(metadata),
        tags: (!tags_untouched && tags != d.tags).then_some(tags),
        expected_version,
        ..Default::default()
    };
    if req.value.is_none() && req.description.is_none() && req.metadata.is_none() && req.tags.is_none() {
        errors.insert(
            "general".into(),
            "nothing changed: type a new value, or change the description, tags or metadata".into(),
        );
        return Err(errors);
    }
    Ok(req)
}

#[derive(askama::Template)]
#[template(path = "reveal.html")]
struct RevealPage {
    l: Layout,
    name: String,
    back: String,
    version: u64,
    value: String,
    seconds: u32,
}

/// A value as text for the screen: text as it is, structured values one `field: value` a line.
fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

/// Reveals a masked value (core authorises and audits it): JSON for the page's script, which
/// shows it for `reveal_seconds`; without the script, a page that returns to the secret then.
pub(crate) async fn reveal(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    form: Form,
) -> PanelResult {
    let revealed = s.core.reveal(&form.session.principal, &ctx, &name, None).await?;
    let value = display_value(&revealed.value);
    let seconds = s.panel.reveal_seconds;
    if form.wants_json {
        return Ok(Json(json!({ "value": value, "version": revealed.version, "seconds": seconds })).into_response());
    }
    let page = RevealPage {
        l: Layout::new(&form.session, "secrets", revealed.name.clone()),
        back: format!("/secrets/{}", seg(&revealed.name)),
        name: revealed.name,
        version: revealed.version,
        value,
        seconds,
    };
    render(StatusCode::OK, &page)
}

pub(crate) async fn rollback(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    form: Form,
) -> PanelResult {
    let f = &form.fields;
    let to = f
        .get("to")
        .parse::<u64>()
        .map_err(|_| super::PanelError::page(StatusCode::BAD_REQUEST, "choose a version to roll back to"))?;
    let expected = f.get("expected_version").parse::<u64>().ok();
    let d = s
        .core
        .rollback(&form.session.principal, &ctx, &name, to, expected)
        .await?;
    Ok(see_other(&format!("/secrets/{}?notice=rolled_back", seg(&d.name))))
}

pub(crate) async fn delete(
    State(s): State<AppState>,
    Ctx(ctx): Ctx,
    Path(name): Path<String>,
    form: Form,
) -> PanelResult {
    let p = &form.session.principal;
    if form.fields.get("confirm_name").trim() != name {
        let d = s.core.get_secret(p, &name).await?;
        let edit = EditForm {
            description: d.description.clone(),
            tags: tags_text(&d.tags),
            metadata: metadata_text(&d.metadata),
            value: ValueFields::default(),
        };
        let l = Layout::new(&form.session, "secrets", d.name.clone());
        let error = Some(format!("type the secret's name, {}, exactly to delete it", d.name));
        return secret_page(
            &s,
            &form.session,
            l,
            d,
            edit,
            Errors::new(),
            true,
            error,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    s.core.delete_secret(p, &ctx, &name).await?;
    Ok(see_other("/trash?notice=deleted"))
}
