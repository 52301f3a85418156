//! Secret types. Each type is one module implementing [`SecretKind`]: its [`Description`] (wire
//! name, label, and its fields described once as [`FieldSpec`]: name, label, input, sensitive,
//! required, default), how its value is validated and encoded, and the text a reference to it
//! gives. Everything else is derived from that: the
//! panel's forms and details, the CLI's `--type` help, the error text listing types, the fields
//! templates and actions may reference, and the credentials the action redactor hides.
//! Adding a type is a new module, its `mod` line and its line in [`kind_of`], plus its wire name
//! in `sealbox_types::SecretType`.

mod aws_sqs;
mod database;
mod smtp;
mod ssh_key;
mod text;

use sealbox_crypto::{ExposeSecret, SecretSlice};
use sealbox_types::{SecretType, codes};
use serde_json::{Map, Value};

use crate::error::{CoreError, CoreResult};

/// The registry: every type's module.
pub fn kind_of(secret_type: SecretType) -> &'static dyn SecretKind {
    match secret_type {
        SecretType::Text => &text::Text,
        SecretType::Smtp => &smtp::Smtp,
        SecretType::AwsSqs => &aws_sqs::AwsSqs,
        SecretType::Database => &database::Database,
        SecretType::SshKey => &ssh_key::SshKey,
    }
}

/// Every registered type, in the order forms and help list them.
pub fn all() -> impl Iterator<Item = &'static dyn SecretKind> {
    SecretType::ALL.into_iter().map(kind_of)
}

/// `text, smtp, aws_sqs, ...`: for error messages and help.
pub fn type_names() -> String {
    all().map(|k| k.secret_type().as_str()).collect::<Vec<_>>().join(", ")
}

/// The kind of a stored row's type name (rows are written only with registered types).
pub fn stored_kind(stored_type: &str) -> CoreResult<&'static dyn SecretKind> {
    SecretType::parse(stored_type)
        .map(kind_of)
        .ok_or_else(|| CoreError::internal("stored secret type is unknown"))
}

/// How a field is typed in a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Text,
    Password,
    Number,
    Url,
    /// Several lines (a text value, a private key).
    Multiline,
    /// One of a closed list of values.
    Choice(&'static [&'static str]),
}

/// One field of a type's value, described once.
#[derive(Debug)]
pub struct FieldSpec {
    /// The key in the JSON value (`"value"` for the text type's single string).
    pub name: &'static str,
    /// The panel's input name and id suffix; unique across every type, since the "+ New Secret"
    /// form holds every type's fields.
    pub form: &'static str,
    pub label: &'static str,
    pub input: Input,
    /// Sensitive fields follow the secret's visibility; the others are shown as details.
    pub sensitive: bool,
    pub required: bool,
    /// What the form starts with and what an absent field means.
    pub default: Option<&'static str>,
    pub placeholder: &'static str,
    pub max_chars: usize,
}

impl FieldSpec {
    /// A field that always carries a value in a form (a default or a choice), so it alone does
    /// not count as typing a new value.
    pub fn always_set(&self) -> bool {
        self.default.is_some() || matches!(self.input, Input::Choice(_))
    }
}

/// A value that passed its type's rules: the plaintext to seal and the non-sensitive details.
pub struct ValidatedValue {
    pub plaintext: SecretSlice<u8>,
    /// Public fields shown beside the secret (e.g. the SMTP host); `{}` for text.
    pub details: Value,
}

/// Why a `{secrets.NAME.field}` reference gives no text.
#[derive(Debug, PartialEq, Eq)]
pub enum FieldProblem {
    TextHasNoFields,
    NoSuchField,
}

impl FieldProblem {
    /// The end of a reference problem: `a text secret has no fields`.
    pub fn message(&self, field: Option<&str>) -> String {
        match self {
            FieldProblem::TextHasNoFields => "a text secret has no fields".to_owned(),
            FieldProblem::NoSuchField => format!("the secret has no field {}", field.unwrap_or_default()),
        }
    }
}

/// What a type is, described once: its wire name, how people read it, and its fields.
#[derive(Debug)]
pub struct Description {
    pub secret_type: SecretType,
    /// How people read the type's name: `SMTP`, `AWS SQS`.
    pub label: &'static str,
    /// Whether the value is a JSON object of `fields` (all but text, whose one field is the
    /// whole value).
    pub structured: bool,
    pub fields: &'static [FieldSpec],
}

pub trait SecretKind: Sync {
    fn description(&self) -> &'static Description;

    /// A derived field's text (e.g. a database's `url`), for references.
    fn derived(&self, _value: &Value, _field: &str) -> Option<String> {
        None
    }

    /// Checks `value` against the type's rules; on failure, one message per broken field rule,
    /// e.g. `smtp.port: must be 1-65535`. Messages never repeat the value.
    fn validate(&self, value: &Value) -> Result<ValidatedValue, Vec<String>>;

    /// Turns opened plaintext back into the API's value. Structured types store canonical JSON.
    fn decode(&self, plaintext: &[u8]) -> CoreResult<Value> {
        serde_json::from_slice(plaintext).map_err(|_| CoreError::internal("stored structured value is not JSON"))
    }

    /// The whole value as one text, for the environment and `{secrets.NAME}`: a text as it is,
    /// a structured value as its JSON object.
    fn whole_text(&self, value: &Value) -> String {
        match value {
            Value::String(text) => text.clone(),
            structured => structured.to_string(),
        }
    }
}

impl dyn SecretKind {
    pub fn secret_type(&self) -> SecretType {
        self.description().secret_type
    }

    pub fn label(&self) -> &'static str {
        self.description().label
    }

    pub fn fields(&self) -> &'static [FieldSpec] {
        self.description().fields
    }

    pub fn structured(&self) -> bool {
        self.description().structured
    }

    /// The text `{secrets.NAME}` (no field) or `{secrets.NAME.field}` gives.
    pub fn reference_text(&self, value: &Value, field: Option<&str>) -> Result<String, FieldProblem> {
        let Some(field) = field else {
            return Ok(self.whole_text(value));
        };
        if !self.structured() {
            return Err(FieldProblem::TextHasNoFields);
        }
        match value.get(field) {
            Some(Value::String(text)) => Ok(text.clone()),
            Some(Value::Null) | None => self.derived(value, field).ok_or(FieldProblem::NoSuchField),
            Some(other) => Ok(other.to_string()),
        }
    }

    /// The texts of the value's sensitive fields, for redaction.
    pub fn sensitive_texts(&self, value: &Value) -> Vec<String> {
        if !self.structured() {
            return value.as_str().map(str::to_owned).into_iter().collect();
        }
        self.fields()
            .iter()
            .filter(|f| f.sensitive)
            .filter_map(|f| value.get(f.name).and_then(Value::as_str).map(str::to_owned))
            .collect()
    }

    /// The allowed JSON keys of a structured value.
    pub fn field_names(&self) -> Vec<&'static str> {
        self.fields().iter().map(|f| f.name).collect()
    }
}

/// Validates a value of `secret_type`, joining every broken rule into one error.
pub fn validate(secret_type: SecretType, value: &Value) -> CoreResult<ValidatedValue> {
    kind_of(secret_type)
        .validate(value)
        .map_err(|problems| CoreError::invalid(codes::SECRET_VALUE_INVALID, problems.join("; ")))
}

/// Helpers for the structured (JSON object) types.
pub(crate) struct Fields<'a> {
    prefix: &'static str,
    specs: &'static [FieldSpec],
    object: &'a Map<String, Value>,
    pub problems: Vec<String>,
}

impl<'a> Fields<'a> {
    /// Reads `value` as an object whose keys are all fields of `kind`.
    pub fn new(kind: &(dyn SecretKind + 'static), value: &'a Value) -> Result<Self, Vec<String>> {
        let prefix = kind.secret_type().as_str();
        let allowed = kind.field_names();
        let Some(object) = value.as_object() else {
            return Err(vec![format!(
                "value: must be a JSON object with the fields {} for type {prefix}",
                allowed.join(", ")
            )]);
        };
        let problems = object
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .map(|k| {
                format!(
                    "{prefix}.{}: unknown field; allowed: {}",
                    crate::validate::quote_for_message(k),
                    allowed.join(", ")
                )
            })
            .collect();
        Ok(Self {
            prefix,
            specs: kind.fields(),
            object,
            problems,
        })
    }

    pub fn problem(&mut self, field: &str, rule: &str) {
        self.problems.push(format!("{}.{field}: {rule}", self.prefix));
    }

    /// A string field as its spec says (required, at most `max_chars`); `None` when absent.
    /// Records a problem for a non-string or an over-long one.
    pub fn string(&mut self, field: &str) -> Option<String> {
        let (required, max_chars) = self
            .specs
            .iter()
            .find(|s| s.name == field)
            .map_or((false, usize::MAX), |s| (s.required, s.max_chars));
        match self.object.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.problem(field, "is required");
                }
                None
            }
            Some(Value::String(s)) if s.is_empty() && required => {
                self.problem(field, "must not be empty");
                None
            }
            Some(Value::String(s)) if s.chars().count() > max_chars => {
                self.problem(field, &format!("at most {max_chars} characters"));
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.problem(field, "must be a string");
                None
            }
        }
    }

    /// A port: absent gives `default`, otherwise a number 1-65535.
    pub fn port(&mut self, field: &str, default: Option<u64>) -> Option<u64> {
        match self.raw(field) {
            None => default,
            Some(p) => match p.as_u64() {
                Some(n) if (1..=65535).contains(&n) => Some(n),
                _ => {
                    self.problem(field, "must be 1-65535");
                    None
                }
            },
        }
    }

    pub fn raw(&self, field: &str) -> Option<&Value> {
        self.object.get(field).filter(|v| !v.is_null())
    }

    /// The value to seal and its public details (the fields that are not sensitive); fields left
    /// empty are dropped from both.
    pub fn finish(self, canonical: Value) -> Result<ValidatedValue, Vec<String>> {
        if !self.problems.is_empty() {
            return Err(self.problems);
        }
        let canonical = without_nulls(canonical);
        let details = match &canonical {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, _)| self.specs.iter().any(|s| s.name == k.as_str() && !s.sensitive))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            _ => Value::Object(Map::new()),
        };
        let bytes = serde_json::to_vec(&canonical).map_err(|_| vec![format!("{}: not serialisable", self.prefix)])?;
        Ok(ValidatedValue {
            plaintext: SecretSlice::from(bytes),
            details,
        })
    }
}

fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

/// Reads a validated plaintext as text, for tests and for the text type.
pub fn plaintext_str(v: &ValidatedValue) -> Option<&str> {
    // EXPOSE: borrowed only to inspect the bytes just validated, never stored or logged.
    std::str::from_utf8(v.plaintext.expose_secret()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_names_are_unique_across_types_and_every_type_is_registered() {
        let mut seen = std::collections::BTreeSet::new();
        for kind in all() {
            assert_eq!(kind_of(kind.secret_type()).secret_type(), kind.secret_type());
            assert!(!kind.fields().is_empty(), "{}", kind.label());
            for f in kind.fields() {
                assert!(seen.insert(f.form), "form name {} is used twice", f.form);
            }
        }
        assert_eq!(type_names(), "text, smtp, aws_sqs, database, ssh_key");
    }

    #[test]
    fn references_give_fields_derived_fields_or_a_problem() {
        let smtp = kind_of(SecretType::Smtp);
        let v = serde_json::json!({"host": "h", "port": 587});
        assert_eq!(smtp.reference_text(&v, Some("host")), Ok("h".to_owned()));
        assert_eq!(smtp.reference_text(&v, Some("port")), Ok("587".to_owned()));
        assert_eq!(smtp.reference_text(&v, Some("nope")), Err(FieldProblem::NoSuchField));
        assert_eq!(smtp.reference_text(&v, None), Ok(v.to_string()));
        let text = kind_of(SecretType::Text);
        assert_eq!(
            text.reference_text(&Value::String("t".into()), Some("x")),
            Err(FieldProblem::TextHasNoFields)
        );
        assert_eq!(
            smtp.sensitive_texts(&serde_json::json!({"host": "h", "password": "pw"})),
            vec!["pw"]
        );
    }
}
