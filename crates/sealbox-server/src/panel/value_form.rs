//! The value part of the secret forms, derived from each type's field descriptions
//! (`sealbox_core::kinds`): what was typed, the inputs the shared `field` macro renders, and the
//! API value the typed fields make. No type is named here.

use std::collections::BTreeMap;

use sealbox_core::kinds::{self, FieldSpec, Input, SecretKind};
use sealbox_types::SecretType;
use serde_json::{Map, Value, json};

use super::forms::Fields;

pub(crate) type Errors = BTreeMap<String, String>;

/// What was typed into the value inputs of every type, by input name.
#[derive(Default)]
pub(crate) struct ValueFields(BTreeMap<&'static str, String>);

impl ValueFields {
    pub fn from_fields(f: &Fields) -> Self {
        let typed = kinds::all()
            .flat_map(|k| k.fields())
            .map(|spec| {
                let raw = f.get(spec.form);
                // Browsers send a textarea's line breaks as CRLF, whatever was typed or pasted;
                // the value is stored with LF, as the page's character counter counts it.
                let raw = if spec.input == Input::Multiline {
                    raw.replace("\r\n", "\n")
                } else {
                    raw.to_owned()
                };
                (spec.form, raw)
            })
            .collect();
        Self(typed)
    }

    /// A new form: each field's default.
    pub fn defaults() -> Self {
        Self::starting_with(&Value::Null)
    }

    /// An edit form: the fields that always carry a value (a default, a choice) start from the
    /// stored detail (a port, an engine), the others empty (a stored value is never put into the
    /// page), so an untouched form changes no value.
    pub fn starting_with(details: &Value) -> Self {
        let start = kinds::all()
            .flat_map(|k| k.fields())
            .filter(|spec| spec.always_set())
            .filter_map(|spec| {
                let stored = details.get(spec.name).map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
                stored.or(spec.default.map(str::to_owned)).map(|v| (spec.form, v))
            })
            .collect();
        Self(start)
    }

    fn get(&self, spec: &FieldSpec) -> &str {
        self.0.get(spec.form).map_or("", String::as_str)
    }

    /// Whether anything was typed for type `t` (a default or a choice alone does not count).
    pub fn is_empty(&self, t: SecretType) -> bool {
        let kind = kinds::kind_of(t);
        kind.fields().iter().filter(|s| !s.always_set()).all(|s| {
            let typed = self.get(s);
            if kind.structured() {
                typed.trim().is_empty()
            } else {
                typed.is_empty()
            }
        })
    }

    /// The API's value for type `t`; empty fields are left out so core names what is required.
    /// Sensitive fields are kept as typed, the others trimmed.
    pub fn to_value(&self, t: SecretType, errors: &mut Errors) -> Value {
        let kind = kinds::kind_of(t);
        if !kind.structured() {
            return Value::String(
                kind.fields()
                    .first()
                    .map(|s| self.get(s))
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        let mut object = Map::new();
        for spec in kind.fields() {
            let typed = self.get(spec);
            if typed.trim().is_empty() {
                continue;
            }
            let value = if spec.input == Input::Number {
                match typed.trim().parse::<u64>() {
                    Ok(n) => json!(n),
                    Err(_) => {
                        errors.insert(spec.form.into(), "must be a number from 1 to 65535".into());
                        continue;
                    }
                }
            } else if spec.sensitive {
                Value::String(typed.to_owned())
            } else {
                Value::String(typed.trim().to_owned())
            };
            object.insert(spec.name.into(), value);
        }
        Value::Object(object)
    }
}

/// One input of the shared `field` macro (templates/fields.html).
pub(crate) struct FieldView {
    /// The input's name; its id is `{prefix}-{name}`.
    pub name: &'static str,
    pub label: &'static str,
    /// `text`, `password`, `number`, `url`, `multiline` or `choice`.
    pub input: &'static str,
    pub choices: &'static [&'static str],
    pub placeholder: &'static str,
    pub max_chars: usize,
    pub value: String,
}

impl FieldView {
    /// The form error about this input.
    pub fn error<'a>(&self, errors: &'a Errors) -> Option<&'a String> {
        errors.get(self.name)
    }
}

/// A type's inputs.
pub(crate) struct KindView {
    pub name: &'static str,
    pub label: &'static str,
    pub structured: bool,
    pub fields: Vec<FieldView>,
}

fn field_view(spec: &FieldSpec, values: &ValueFields, editing: bool) -> FieldView {
    let (input, choices) = match spec.input {
        Input::Text => ("text", &[][..]),
        Input::Password => ("password", &[][..]),
        Input::Number => ("number", &[][..]),
        Input::Url => ("url", &[][..]),
        Input::Multiline => ("multiline", &[][..]),
        Input::Choice(choices) => ("choice", choices),
    };
    let placeholder = if editing && spec.name == "value" {
        "Leave empty to keep the current value"
    } else {
        spec.placeholder
    };
    FieldView {
        name: spec.form,
        label: spec.label,
        input,
        choices,
        placeholder,
        max_chars: spec.max_chars,
        value: values.get(spec).to_owned(),
    }
}

pub(crate) fn kind_view(kind: &'static dyn SecretKind, values: &ValueFields, editing: bool) -> KindView {
    KindView {
        name: kind.secret_type().as_str(),
        label: kind.label(),
        structured: kind.structured(),
        fields: kind.fields().iter().map(|s| field_view(s, values, editing)).collect(),
    }
}

/// Every type's inputs, for the "+ New Secret" form.
pub(crate) fn all_kind_views(values: &ValueFields) -> Vec<KindView> {
    kinds::all().map(|k| kind_view(k, values, false)).collect()
}

/// `(value, label)` of every type, for type selects.
pub(crate) fn type_options() -> Vec<(&'static str, &'static str)> {
    kinds::all().map(|k| (k.secret_type().as_str(), k.label())).collect()
}

/// The type's label: `SMTP`.
pub(crate) fn type_label(t: SecretType) -> &'static str {
    kinds::kind_of(t).label()
}

/// A secret's public details with their labels, in the type's field order.
pub(crate) fn details(t: SecretType, details: &Value) -> Vec<(String, String)> {
    kinds::kind_of(t)
        .fields()
        .iter()
        .filter_map(|spec| {
            let text = match details.get(spec.name)? {
                Value::String(s) => s.clone(),
                Value::Null => return None,
                other => other.to_string(),
            };
            Some((spec.label.to_owned(), text))
        })
        .collect()
}

/// The input a core problem path (`smtp.port`) is about: the field's input name.
pub(crate) fn input_for(path: &str) -> Option<&'static str> {
    let (type_name, field) = path.split_once('.')?;
    let kind = kinds::kind_of(SecretType::parse(type_name)?);
    kind.fields().iter().find(|s| s.name == field).map(|s| s.form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_fields_make_the_types_value() {
        let f = Fields::parse(b"db_engine=postgres&db_host=+db+&db_port=6432&db_password=+pw+&host=other").unwrap();
        let typed = ValueFields::from_fields(&f);
        let mut errors = Errors::new();
        assert_eq!(
            typed.to_value(SecretType::Database, &mut errors),
            json!({"engine": "postgres", "host": "db", "port": 6432, "password": " pw "})
        );
        assert!(errors.is_empty());
        assert!(!typed.is_empty(SecretType::Database));
        assert!(ValueFields::from_fields(&Fields::parse(b"db_engine=mysql").unwrap()).is_empty(SecretType::Database));
        let bad = ValueFields::from_fields(&Fields::parse(b"db_port=x").unwrap());
        bad.to_value(SecretType::Database, &mut errors);
        assert_eq!(
            errors.get("db_port").map(String::as_str),
            Some("must be a number from 1 to 65535")
        );
        let stored = json!({"engine": "mysql", "host": "db", "port": 3307, "username": "app"});
        let edit = ValueFields::starting_with(&stored);
        assert!(
            edit.is_empty(SecretType::Database),
            "an untouched edit form changes no value"
        );
        let shown = kind_view(kinds::kind_of(SecretType::Database), &edit, true);
        let value_of = |name: &str| shown.fields.iter().find(|f| f.name == name).map(|f| f.value.clone());
        assert_eq!(value_of("db_engine").as_deref(), Some("mysql"));
        assert_eq!(value_of("db_host").as_deref(), Some(""));
        assert_eq!(
            ValueFields::starting_with(&json!({"port": 2525})).get(&kinds::kind_of(SecretType::Smtp).fields()[1]),
            "2525"
        );
        assert_eq!(input_for("database.port"), Some("db_port"));
        assert_eq!(input_for("aws_sqs.aws_region"), Some("region"));
        assert_eq!(input_for("smtp.nope"), None);
    }
}
