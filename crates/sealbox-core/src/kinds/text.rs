//! `text`: a string of 1 to 2048 Unicode characters (not bytes).

use sealbox_crypto::SecretSlice;
use serde_json::{Value, json};

use sealbox_types::SecretType;

use super::{Description, FieldSpec, Input, SecretKind, ValidatedValue};
use crate::error::{CoreError, CoreResult};

pub const TEXT_MAX_CHARS: usize = 2048;

pub struct Text;

const FIELDS: &[FieldSpec] = &[FieldSpec {
    name: "value",
    form: "value",
    label: "Value",
    input: Input::Multiline,
    sensitive: true,
    required: true,
    default: None,
    placeholder: "",
    max_chars: TEXT_MAX_CHARS,
}];

const DESCRIPTION: Description = Description {
    secret_type: SecretType::Text,
    label: "Text",
    structured: false,
    fields: FIELDS,
};

impl SecretKind for Text {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    fn validate(&self, value: &Value) -> Result<ValidatedValue, Vec<String>> {
        let Value::String(s) = value else {
            return Err(vec!["value: must be a string for type text".to_owned()]);
        };
        let n = s.chars().count();
        if n == 0 {
            return Err(vec!["value: must not be empty".to_owned()]);
        }
        if n > TEXT_MAX_CHARS {
            return Err(vec![format!(
                "value: at most {TEXT_MAX_CHARS} characters for type text, got {n}"
            )]);
        }
        Ok(ValidatedValue {
            plaintext: SecretSlice::from(s.as_bytes().to_vec()),
            details: json!({}),
        })
    }

    fn decode(&self, plaintext: &[u8]) -> CoreResult<Value> {
        String::from_utf8(plaintext.to_vec())
            .map(Value::String)
            .map_err(|_| CoreError::internal("stored text value is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::plaintext_str;

    #[test]
    fn counts_characters_not_bytes() {
        let emoji = "🔑".repeat(2048);
        let v = Text.validate(&json!(emoji)).unwrap();
        assert_eq!(plaintext_str(&v), Some(emoji.as_str()));
        let err = Text.validate(&json!("a".repeat(2049))).err().unwrap();
        assert_eq!(err, vec!["value: at most 2048 characters for type text, got 2049"]);
        assert!(Text.validate(&json!("")).is_err());
        assert!(Text.validate(&json!(42)).is_err());
    }
}
