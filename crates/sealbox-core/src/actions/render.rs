//! Rendering a checked definition with the opened secrets and the run's input: every field
//! becomes a `SecretString` (secret references replaced by values, input put in by its field's
//! [`Placer`]); every problem is collected, so nothing is sent half-rendered.

use std::collections::BTreeMap;

use sealbox_crypto::SecretString;
use sealbox_store::SecretVersionRow;
use sealbox_types::codes;
use serde_json::{Map, Value};

use super::definition::{Compiled, Field};
use super::input::Placer;
use super::kind::{AccountSecret, RenderedKind};
use crate::error::{CoreError, CoreResult, ErrorClass};
use crate::secrets::Secret;
use crate::template::Segment;

/// A secret a run opened: the secret, the version used, and its value.
pub(super) struct Opened {
    pub(super) secret: Secret,
    pub(super) version: SecretVersionRow,
    pub(super) value: Value,
}

/// Renders `compiled`: an input that cannot go where it lands is `action.input_invalid`, a
/// reference that cannot be filled `action.reference_invalid`.
pub(super) fn render(
    compiled: &Compiled,
    opened: &BTreeMap<String, Opened>,
    input: &BTreeMap<String, String>,
) -> CoreResult<Box<dyn RenderedKind>> {
    let mut r = Renderer::new(opened, input);
    let rendered = compiled.render(&mut r)?;
    if !r.input_problems.is_empty() {
        return Err(CoreError::invalid(
            codes::ACTION_INPUT_INVALID,
            format!("input: {}", r.input_problems.join("; ")),
        ));
    }
    if r.problems.is_empty() {
        Ok(rendered)
    } else {
        Err(CoreError::new(
            ErrorClass::Unprocessable,
            codes::ACTION_REFERENCE_INVALID,
            r.problems.join("; "),
        ))
    }
}

/// Renders fields, collecting every problem (a missing field of a secret, a text secret used
/// with a field; input that cannot go where it lands).
pub(super) struct Renderer<'a> {
    opened: &'a BTreeMap<String, Opened>,
    input: &'a BTreeMap<String, String>,
    /// What the kind's fields could not be rendered with (`action.reference_invalid`).
    pub(super) problems: Vec<String>,
    /// Input that cannot go where it lands (`action.input_invalid`).
    pub(super) input_problems: Vec<String>,
}

impl<'a> Renderer<'a> {
    pub(super) fn new(opened: &'a BTreeMap<String, Opened>, input: &'a BTreeMap<String, String>) -> Self {
        Renderer {
            opened,
            input,
            problems: Vec::new(),
            input_problems: Vec::new(),
        }
    }

    pub(super) fn field(&mut self, field: &Field) -> SecretString {
        let mut out = String::new();
        let mut placer = Placer::new(field.placement);
        for segment in &field.segments {
            match segment {
                Segment::Text(t) => {
                    placer.text(t);
                    out.push_str(t);
                }
                Segment::Input(i) => {
                    let value = self.input.get(&i.key).map_or("", String::as_str);
                    if let Err(problem) = placer.input(&mut out, &i.key, value) {
                        self.input_problem(&i.key, field, &problem);
                    }
                }
                Segment::Secret(r) => match self.opened.get(&r.name) {
                    None => self
                        .problems
                        .push(format!("{}: {}: no such secret", field.name, r.written())),
                    Some(o) => match o.secret.kind().reference_text(&o.value, r.field.as_deref()) {
                        Ok(text) => out.push_str(&text),
                        Err(problem) => self.problems.push(format!(
                            "{}: {}: {}",
                            field.name,
                            r.written(),
                            problem.message(r.field.as_deref())
                        )),
                    },
                },
            }
        }
        for (key, problem) in placer.finish(&out) {
            self.input_problem(&key, field, &problem);
        }
        SecretString::from(out)
    }

    fn input_problem(&mut self, key: &str, field: &Field, problem: &str) {
        let problem = format!("{key}: in {}: {problem}", field.name);
        if !self.input_problems.contains(&problem) {
            self.input_problems.push(problem);
        }
    }

    pub(super) fn optional(&mut self, field: &Option<Field>) -> Option<SecretString> {
        field.as_ref().map(|f| self.field(f))
    }

    pub(super) fn list(&mut self, fields: &[Field]) -> Vec<SecretString> {
        fields.iter().map(|f| self.field(f)).collect()
    }

    /// The fields of the account secret, which must be open and of the account's type.
    pub(super) fn account(&self, account: &AccountSecret) -> CoreResult<&'a Map<String, Value>> {
        let wrong = || {
            CoreError::new(
                ErrorClass::Unprocessable,
                codes::ACTION_REFERENCE_INVALID,
                format!(
                    "secret: {} must be a secret of type {}; create one or name another",
                    account.name,
                    account.secret_type.as_str()
                ),
            )
        };
        let o = self.opened.get(&account.name).ok_or_else(wrong)?;
        if o.secret.secret_type != account.secret_type {
            return Err(wrong());
        }
        o.value.as_object().ok_or_else(wrong)
    }
}

/// A text field of an account secret.
pub(super) fn text_of(fields: &Map<String, Value>, key: &str) -> Option<String> {
    match fields.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}
