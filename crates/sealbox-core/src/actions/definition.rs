//! Checking a definition: what every kind shares. A definition ([`ActionDefinition`]) is checked
//! once into a [`Compiled`] form by its kind's module (through [`super::kind::check`]), every text
//! field parsed with [`parse_with_inputs`] into a [`Field`] by the [`Checker`], which collects
//! every problem so one answer names them all.

use std::collections::{BTreeMap, BTreeSet};

use sealbox_types::{ActionDefinition, ActionKind, codes};

use super::input::Placement;
use super::kind::{AccountSecret, CheckedKind, RenderedKind};
use super::render::Renderer;
use crate::error::{CoreError, CoreResult};
use crate::template::{Segment, parse_with_inputs};
use crate::validate::{self, SecretName};

const MAX_FIELD_CHARS: usize = 65_536;
const MAX_ENTRIES: usize = 50;
const MAX_INPUT_CHARS: usize = 8192;

/// One parsed text field, its name as error messages show it (`headers.Authorization`), and how
/// input is put into it.
#[derive(Debug, Clone)]
pub(super) struct Field {
    pub(super) name: String,
    pub(super) segments: Vec<Segment>,
    pub(super) placement: Placement,
}

/// Collects every problem of a definition, so one answer names them all.
#[derive(Default)]
pub(super) struct Checker {
    pub(super) problems: Vec<String>,
}

impl Checker {
    /// Parses a text field; `one_secret`: at most one `{secrets...}` reference (http fields);
    /// `placement`: how its input is put in.
    pub(super) fn field(&mut self, name: &str, text: &str, one_secret: bool, placement: Placement) -> Field {
        let mut field = Field {
            name: name.to_owned(),
            segments: Vec::new(),
            placement,
        };
        if text.chars().count() > MAX_FIELD_CHARS {
            self.problems
                .push(format!("{name}: at most {MAX_FIELD_CHARS} characters"));
            return field;
        }
        match parse_with_inputs(text) {
            Ok(segments) => field.segments = segments,
            Err(problems) => {
                self.problems
                    .extend(problems.into_iter().map(|p| format!("{name}: {p}")));
                return field;
            }
        }
        let secrets = field
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Secret(_)))
            .count();
        if one_secret && secrets > 1 {
            self.problems.push(format!(
                "{name}: holds {secrets} secret references; each field may hold at most one"
            ));
        }
        field
    }

    pub(super) fn secret_name(&mut self, field: &str, raw: &str) -> String {
        if let Err(e) = SecretName::parse(raw) {
            self.problems.push(format!("{field}: {}", e.message));
        }
        raw.to_owned()
    }

    pub(super) fn entries(&mut self, field: &str, n: usize) {
        if n > MAX_ENTRIES {
            self.problems.push(format!("{field}: at most {MAX_ENTRIES} entries"));
        }
    }
}

/// The field's text when it holds no reference.
pub(super) fn literal(field: &Field) -> Option<String> {
    match field.segments.as_slice() {
        [] => Some(String::new()),
        [Segment::Text(t)] => Some(t.clone()),
        _ => None,
    }
}

/// A checked definition: its kind's form, and what the use-cases read of any kind.
#[derive(Debug)]
pub(super) struct Compiled(Box<dyn CheckedKind>);

impl Compiled {
    pub(super) fn kind(&self) -> ActionKind {
        self.0.kind()
    }

    pub(super) fn fields(&self) -> Vec<&Field> {
        self.0.fields()
    }

    pub(super) fn account(&self) -> Option<&AccountSecret> {
        self.0.account()
    }

    /// Where the definition says it goes (an HTTP URL's host), for a run refused before rendering.
    pub(super) fn written_destination(&self) -> Option<String> {
        self.0.written_destination()
    }

    pub(super) fn render(&self, r: &mut Renderer<'_>) -> CoreResult<Box<dyn RenderedKind>> {
        self.0.render(r)
    }

    /// Every secret the definition uses, by name: the account secret and every reference.
    pub(super) fn secrets(&self) -> Vec<String> {
        let mut names = BTreeSet::new();
        if let Some(account) = self.account() {
            names.insert(account.name.clone());
        }
        for field in self.fields() {
            for segment in &field.segments {
                if let Segment::Secret(r) = segment {
                    names.insert(r.name.clone());
                }
            }
        }
        names.into_iter().collect()
    }

    pub(super) fn inputs(&self) -> Vec<String> {
        let mut keys = BTreeSet::new();
        for field in self.fields() {
            for segment in &field.segments {
                if let Segment::Input(i) = segment {
                    keys.insert(i.key.clone());
                }
            }
        }
        keys.into_iter().collect()
    }

    /// Refuses input the action does not take, input it takes that is missing, and values over
    /// the limit.
    pub(super) fn check_input(&self, input: &BTreeMap<String, String>) -> CoreResult<()> {
        let wanted = self.inputs();
        let mut problems = Vec::new();
        let missing: Vec<&str> = wanted
            .iter()
            .filter(|k| !input.contains_key(*k))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            problems.push(format!("missing: {}", missing.join(", ")));
        }
        let unknown: Vec<String> = input
            .keys()
            .filter(|k| !wanted.contains(k))
            .map(|k| validate::quote_for_message(k))
            .collect();
        if !unknown.is_empty() {
            problems.push(format!("not used by this action: {}", unknown.join(", ")));
        }
        for (key, value) in input {
            if value.chars().count() > MAX_INPUT_CHARS || value.contains('\0') {
                problems.push(format!(
                    "{}: at most {MAX_INPUT_CHARS} characters, without NUL characters",
                    validate::quote_for_message(key)
                ));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        let wanted = if wanted.is_empty() {
            "none".to_owned()
        } else {
            wanted.join(", ")
        };
        Err(CoreError::invalid(
            codes::ACTION_INPUT_INVALID,
            format!("input: {}; this action takes: {wanted}", problems.join("; ")),
        ))
    }
}

/// The compiled form, or every problem found as one `action.definition_invalid` error.
pub(super) fn compile(definition: &ActionDefinition) -> CoreResult<Compiled> {
    let (compiled, problems) = check(definition);
    if problems.is_empty() {
        Ok(compiled)
    } else {
        Err(CoreError::invalid(
            codes::ACTION_DEFINITION_INVALID,
            problems.join("; "),
        ))
    }
}

/// The compiled form and every problem found; a field that does not parse has no segments.
pub(super) fn check(definition: &ActionDefinition) -> (Compiled, Vec<String>) {
    let mut c = Checker::default();
    let compiled = Compiled(super::kind::check(definition, &mut c));
    (compiled, c.problems)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use sealbox_types::{EmailActionSpec, HttpActionSpec, SqsActionSpec};

    pub(in crate::actions) fn http(
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> ActionDefinition {
        ActionDefinition::Http(HttpActionSpec {
            method: method.into(),
            url: url.into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            query: BTreeMap::new(),
            body: body.map(Into::into),
        })
    }

    pub(in crate::actions) fn problems_of(definition: &ActionDefinition) -> String {
        let e = compile(definition).unwrap_err();
        assert_eq!(e.code, codes::ACTION_DEFINITION_INVALID);
        e.message
    }

    #[test]
    fn a_field_with_two_secret_references_is_refused_by_name() {
        let two = http(
            "POST",
            "https://api.example.com/v1",
            &[("Authorization", "{secrets.USER}:{secrets.PASS}")],
            Some("{secrets.A} and {secrets.B}"),
        );
        let message = problems_of(&two);
        assert!(
            message.contains("headers.Authorization: holds 2 secret references"),
            "{message}"
        );
        assert!(message.contains("body: holds 2 secret references"), "{message}");
        let one_each = http(
            "POST",
            "https://api.example.com/{input.path}?k={secrets.KEY}",
            &[("Authorization", "Bearer {secrets.TOKEN}")],
            Some("{{\"id\": \"{input.id}\", \"k\": \"{secrets.KEY}\"}}"),
        );
        let c = compile(&one_each).unwrap();
        assert_eq!(c.secrets(), ["KEY", "TOKEN"]);
        assert_eq!(c.inputs(), ["id", "path"]);
        assert_eq!(c.written_destination().as_deref(), Some("api.example.com"));
        // E-mail and SQS fields may hold several.
        let mail = ActionDefinition::Email(EmailActionSpec {
            secret: "MAIL".into(),
            from: None,
            to: vec!["{input.to}".into()],
            cc: vec![],
            bcc: vec![],
            subject: "{secrets.A} {secrets.B}".into(),
            text: "hi".into(),
            html: None,
        });
        assert_eq!(compile(&mail).unwrap().secrets(), ["A", "B", "MAIL"]);
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let message = problems_of(&http("FETCH", "nope", &[("Bad Header", "{oops}"), ("Host", "x")], None));
        assert!(message.contains("headers.Host: set by the server"), "{message}");
        assert!(message.contains("method: must be one of"), "{message}");
        assert!(message.contains("url: must start with"), "{message}");
        assert!(message.contains("\"Bad Header\" is not a header name"), "{message}");
        assert!(message.contains("headers.Bad Header: line 1:"), "{message}");
        let sqs = ActionDefinition::Sqs(SqsActionSpec {
            secret: "1bad".into(),
            body: String::new(),
            attributes: BTreeMap::from([("has space".to_string(), "x".to_string())]),
            delay_seconds: Some(901),
            message_group_id: None,
            message_deduplication_id: None,
        });
        let message = problems_of(&sqs);
        for part in [
            "secret:",
            "body:",
            "delay_seconds: 0-900",
            "\"has space\" is not an attribute name",
        ] {
            assert!(message.contains(part), "{part}: {message}");
        }
    }

    #[test]
    fn inputs_must_match_what_the_action_takes() {
        let c = compile(&http("GET", "https://example.com/{input.id}", &[], None)).unwrap();
        assert!(c.check_input(&BTreeMap::from([("id".into(), "7".into())])).is_ok());
        let e = c.check_input(&BTreeMap::new()).unwrap_err();
        assert!(e.message.contains("missing: id"), "{}", e.message);
        let e = c
            .check_input(&BTreeMap::from([("id".into(), "7".into()), ("x".into(), "1".into())]))
            .unwrap_err();
        assert!(e.message.contains("not used by this action: \"x\""), "{}", e.message);
    }
}
