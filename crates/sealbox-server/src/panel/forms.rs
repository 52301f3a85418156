//! Form and query fields as the browser sent them, and the small parsers that turn panel inputs
//! (tags as `key=value` lists, metadata as JSON text) into the API's shapes. Only input decoding
//! lives here; every rule about names, values and tags is core's.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use sealbox_core::{CoreError, ErrorClass};
use serde_json::Value;

use super::PanelError;

/// `name=value` pairs in the order they came; a name may repeat.
#[derive(Default)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(raw: &[u8]) -> Result<Self, PanelError> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(raw)
            .map(Fields)
            .map_err(|_| PanelError::page(StatusCode::BAD_REQUEST, "the form could not be read; reload the page"))
    }

    /// A query string; an unreadable one counts as empty (filters are only a convenience).
    pub fn query(raw: Option<&str>) -> Self {
        serde_urlencoded::from_str::<Vec<(String, String)>>(raw.unwrap_or_default())
            .map(Fields)
            .unwrap_or_default()
    }

    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    pub fn opt(&self, name: &str) -> Option<&str> {
        Some(self.get(name).trim()).filter(|v| !v.is_empty())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn owned(&self, name: &str) -> String {
        self.get(name).to_owned()
    }
}

/// `env=prod, team=core` (commas or new lines) into a map.
pub(crate) fn parse_tags(raw: &str) -> Result<BTreeMap<String, String>, String> {
    let mut tags = BTreeMap::new();
    for part in raw.split([',', '\n']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            return Err("write each tag as key=value, separated by commas".into());
        };
        tags.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    Ok(tags)
}

pub(crate) fn tags_text(tags: &BTreeMap<String, String>) -> String {
    tags.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Tags as `key=value` strings, one per tag, for a table cell.
pub(crate) fn tags_of(tags: &BTreeMap<String, String>) -> Vec<String> {
    tags.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// A core refusal that belongs on the form (bad input, a name in use), not on an error page.
pub(crate) fn form_error(e: CoreError) -> Result<String, PanelError> {
    if matches!(e.class, ErrorClass::Invalid | ErrorClass::Conflict) {
        Ok(e.message)
    } else {
        Err(e.into())
    }
}

/// Metadata typed as JSON text; empty means none.
pub(crate) fn parse_metadata(raw: &str) -> Result<Option<Value>, String> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str::<Value>(raw).map(Some).map_err(|e| {
        format!(
            "not valid JSON (line {}, column {}); write an object like {{\"owner\": \"ops\"}}",
            e.line(),
            e.column()
        )
    })
}

/// Names separated by commas.
pub(crate) fn parse_list(raw: &str) -> Vec<String> {
    raw.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Splits core's joined value problems (`smtp.port: must be 1-65535; smtp.host: is required`)
/// into one message per form input (the field's input name); anything else belongs to `fallback`.
pub(crate) fn field_errors(message: &str, fallback: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for problem in message.split("; ") {
        let (field, text) = match problem.split_once(": ") {
            Some((path, text)) => match super::value_form::input_for(path) {
                Some(input) => (input.to_owned(), text.to_owned()),
                None => (fallback.to_owned(), problem.to_owned()),
            },
            None => (fallback.to_owned(), problem.to_owned()),
        };
        out.entry(field)
            .and_modify(|e| {
                e.push_str("; ");
                e.push_str(&text);
            })
            .or_insert(text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_parse_from_commas_and_lines() {
        let t = parse_tags("env=prod, team = core\nx=").unwrap();
        assert_eq!(t.get("env").map(String::as_str), Some("prod"));
        assert_eq!(t.get("team").map(String::as_str), Some("core"));
        assert_eq!(t.get("x").map(String::as_str), Some(""));
        assert!(parse_tags("nope").is_err());
        assert_eq!(tags_text(&t), "env=prod, team=core, x=");
    }

    #[test]
    fn metadata_is_json_or_nothing() {
        assert_eq!(parse_metadata("  ").unwrap(), None);
        assert!(parse_metadata("{\"a\": 1}").unwrap().is_some());
        let e = parse_metadata("{secret-ish").unwrap_err();
        assert!(!e.contains("secret-ish"), "{e}");
    }

    #[test]
    fn value_problems_map_to_their_fields() {
        let e = field_errors("smtp.port: must be 1-65535; smtp.host: is required", "value");
        assert_eq!(e.get("port").map(String::as_str), Some("must be 1-65535"));
        assert_eq!(e.get("host").map(String::as_str), Some("is required"));
        let e = field_errors("value: must not be empty", "value");
        assert_eq!(e.get("value").map(String::as_str), Some("value: must not be empty"));
    }

    #[test]
    fn fields_keep_order_and_repeats() {
        let f = Fields::parse(b"a=1&b=2&a=3").unwrap();
        assert_eq!(f.get("a"), "1");
        assert_eq!(f.all("a"), vec!["1", "3"]);
        assert_eq!(f.opt("c"), None);
    }
}
