//! Secret types. Each type is one module implementing [`SecretKind`]: how its value is validated,
//! which of its fields are public details, and how its plaintext is encoded. Adding a type is a new
//! module, a line in [`kind_of`], and a variant of `sealbox_types::SecretType`.

mod aws_sqs;
mod smtp;
mod text;

use sealbox_crypto::{ExposeSecret, SecretSlice};
use sealbox_types::{SecretType, codes};
use serde_json::{Map, Value};

use crate::error::{CoreError, CoreResult};

/// A value that passed its type's rules: the plaintext to seal and the non-sensitive details.
pub struct ValidatedValue {
    pub plaintext: SecretSlice<u8>,
    /// Public fields shown beside the secret (e.g. the SMTP host); `{}` for text.
    pub details: Value,
}

pub trait SecretKind: Sync {
    /// Checks `value` against the type's rules; on failure, one message per broken field rule,
    /// e.g. `smtp.port: must be 1-65535`. Messages never repeat the value.
    fn validate(&self, value: &Value) -> Result<ValidatedValue, Vec<String>>;

    /// Turns opened plaintext back into the API's value. Structured types store canonical JSON.
    fn decode(&self, plaintext: &[u8]) -> CoreResult<Value> {
        serde_json::from_slice(plaintext).map_err(|_| CoreError::internal("stored structured value is not JSON"))
    }
}

pub fn kind_of(secret_type: SecretType) -> &'static dyn SecretKind {
    match secret_type {
        SecretType::Text => &text::Text,
        SecretType::Smtp => &smtp::Smtp,
        SecretType::AwsSqs => &aws_sqs::AwsSqs,
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
    object: &'a Map<String, Value>,
    pub problems: Vec<String>,
}

impl<'a> Fields<'a> {
    /// Reads `value` as an object whose keys are all in `allowed`.
    pub fn new(prefix: &'static str, value: &'a Value, allowed: &[&str]) -> Result<Self, Vec<String>> {
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
            object,
            problems,
        })
    }

    pub fn problem(&mut self, field: &str, rule: &str) {
        self.problems.push(format!("{}.{field}: {rule}", self.prefix));
    }

    /// A string field; `None` when absent. Records a problem for a non-string or an over-long one.
    pub fn string(&mut self, field: &str, required: bool, max_chars: usize) -> Option<String> {
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

    pub fn raw(&self, field: &str) -> Option<&Value> {
        self.object.get(field).filter(|v| !v.is_null())
    }

    /// The value to seal and its public details; fields left empty are dropped from both.
    pub fn finish(self, canonical: Value, details: Value) -> Result<ValidatedValue, Vec<String>> {
        if !self.problems.is_empty() {
            return Err(self.problems);
        }
        let (canonical, details) = (without_nulls(canonical), without_nulls(details));
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
