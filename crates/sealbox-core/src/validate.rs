//! Validated forms of what comes in from the edge. A value of these types has passed its rules;
//! nothing inside core handles the raw strings.

use std::collections::BTreeMap;

use sealbox_types::codes;
use serde_json::Value;

use crate::error::{CoreError, CoreResult};

pub const NAME_MAX_CHARS: usize = 128;
pub const DESCRIPTION_MAX_CHARS: usize = 1024;
pub const METADATA_MAX_BYTES: usize = 16 * 1024;
pub const TAGS_MAX: usize = 50;
pub const TAG_KEY_MAX_CHARS: usize = 64;
pub const TAG_VALUE_MAX_CHARS: usize = 256;

/// A secret's name: `^[A-Za-z][A-Za-z0-9_]*$`, 1 to 128 characters, so also a valid
/// environment variable name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretName(String);

impl SecretName {
    pub fn parse(raw: &str) -> CoreResult<Self> {
        let fail = |rule: &str| {
            CoreError::invalid(
                codes::SECRET_NAME_INVALID,
                format!("name {}: {rule}", quote_for_message(raw)),
            )
        };
        let Some(first) = raw.chars().next() else {
            return Err(CoreError::invalid(
                codes::SECRET_NAME_INVALID,
                "name: must not be empty",
            ));
        };
        if raw.chars().count() > NAME_MAX_CHARS {
            return Err(fail("at most 128 characters"));
        }
        if !first.is_ascii_alphabetic() {
            return Err(fail("must begin with a letter (A-Z, a-z)"));
        }
        if !raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(fail("only letters, digits and underscore (A-Z, a-z, 0-9, _)"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SecretName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shows what the caller sent in an error message, shortened and with control characters escaped.
/// At most 40 characters of the escaped text are shown, so escapes cannot make a message long.
pub fn quote_for_message(raw: &str) -> String {
    const SHOWN: usize = 40;
    let mut shown = String::new();
    let mut shown_chars = 0;
    for c in raw.chars() {
        // Escaped as `{:?}` escapes it inside a string.
        let quoted = format!("{:?}", String::from(c));
        let escaped = &quoted[1..quoted.len() - 1];
        shown_chars += escaped.chars().count();
        if shown_chars > SHOWN {
            return format!("\"{shown}\"...");
        }
        shown.push_str(escaped);
    }
    format!("\"{shown}\"")
}

pub fn description(raw: Option<String>) -> CoreResult<String> {
    let d = raw.unwrap_or_default();
    if d.contains('\0') {
        return Err(CoreError::invalid(
            codes::SECRET_DESCRIPTION_INVALID,
            "description: must not contain NUL characters",
        ));
    }
    if d.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(CoreError::invalid(
            codes::SECRET_DESCRIPTION_INVALID,
            format!("description: at most {DESCRIPTION_MAX_CHARS} characters"),
        ));
    }
    Ok(d)
}

/// Metadata is a JSON object of at most 16 KiB (serialised); stored as JSON text.
pub fn metadata(raw: Option<Value>) -> CoreResult<String> {
    let value = raw.unwrap_or_else(|| Value::Object(Default::default()));
    if !value.is_object() {
        return Err(CoreError::invalid(
            codes::SECRET_METADATA_INVALID,
            "metadata: must be a JSON object",
        ));
    }
    let text = serde_json::to_string(&value).map_err(CoreError::internal)?;
    if text.len() > METADATA_MAX_BYTES {
        return Err(CoreError::invalid(
            codes::SECRET_METADATA_INVALID,
            format!("metadata: at most 16 KiB when serialised, got {} bytes", text.len()),
        ));
    }
    Ok(text)
}

/// Tags: at most 50; keys 1-64 of letters, digits, `_ - . /`; values up to 256 characters
/// without control characters. Stored as a JSON object.
pub fn tags(raw: Option<BTreeMap<String, String>>) -> CoreResult<BTreeMap<String, String>> {
    let tags = raw.unwrap_or_default();
    if tags.len() > TAGS_MAX {
        return Err(CoreError::invalid(
            codes::SECRET_TAGS_INVALID,
            format!("tags: at most {TAGS_MAX}, got {}", tags.len()),
        ));
    }
    for (key, value) in &tags {
        check_tag(key, value).map_err(|m| CoreError::invalid(codes::SECRET_TAGS_INVALID, m))?;
    }
    Ok(tags)
}

/// The rule for one tag; shared with tag filters in queries.
pub fn check_tag(key: &str, value: &str) -> Result<(), String> {
    let key_ok = !key.is_empty()
        && key.chars().count() <= TAG_KEY_MAX_CHARS
        && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c));
    if !key_ok {
        return Err(format!(
            "tags: key {} must be 1-{TAG_KEY_MAX_CHARS} letters, digits, '_', '-', '.' or '/'",
            quote_for_message(key)
        ));
    }
    if value.chars().count() > TAG_VALUE_MAX_CHARS || value.chars().any(char::is_control) {
        return Err(format!(
            "tags: value of {key} must be at most {TAG_VALUE_MAX_CHARS} characters without control characters"
        ));
    }
    Ok(())
}

/// A member's e-mail, trimmed and lower-cased.
pub fn email(raw: &str) -> CoreResult<String> {
    let e = raw.trim().to_lowercase();
    let valid = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(e.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if !valid {
        return Err(CoreError::invalid(
            codes::MEMBER_EMAIL_INVALID,
            format!("email {}: must look like name@example.com", quote_for_message(raw)),
        ));
    }
    Ok(e)
}

pub const PASSWORD_MIN_CHARS: usize = 12;

pub fn password(raw: &str) -> CoreResult<()> {
    let n = raw.chars().count();
    if !(PASSWORD_MIN_CHARS..=1024).contains(&n) {
        return Err(CoreError::invalid(
            codes::MEMBER_PASSWORD_INVALID,
            format!("password: must be {PASSWORD_MIN_CHARS} to 1024 characters"),
        ));
    }
    Ok(())
}

/// Workspace names: 1-63 of lower-case letters, digits and '-', starting with a letter or digit.
pub fn workspace_name(raw: &str) -> CoreResult<String> {
    let ok = !raw.is_empty()
        && raw.len() <= 63
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !raw.starts_with('-');
    if !ok {
        return Err(CoreError::invalid(
            codes::WORKSPACE_NAME_INVALID,
            format!(
                "workspace name {}: must be 1-63 lower-case letters, digits or '-', not starting with '-'",
                quote_for_message(raw)
            ),
        ));
    }
    Ok(raw.to_owned())
}

/// A free-text filter (audit actor, action or target): at most 512 characters, none of them
/// control characters (which no stored value contains, and PostgreSQL refuses NUL in text).
pub fn filter_text(field: &str, code: &'static str, raw: Option<String>) -> CoreResult<Option<String>> {
    match raw {
        Some(v) if v.chars().count() > 512 || v.chars().any(char::is_control) => Err(CoreError::invalid(
            code,
            format!("{field}: at most 512 characters, without control characters"),
        )),
        other => Ok(other),
    }
}

/// A name prefix filter: the characters a name may contain, at most 128 of them.
pub fn name_prefix(raw: Option<String>) -> CoreResult<Option<String>> {
    match raw {
        Some(p) if p.chars().count() > NAME_MAX_CHARS || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            Err(CoreError::invalid(
                codes::REQUEST_INVALID,
                "prefix: only letters, digits and underscore (A-Z, a-z, 0-9, _), at most 128",
            ))
        }
        other => Ok(other),
    }
}

/// Token names: 1-64 printable characters.
pub fn token_name(raw: &str) -> CoreResult<String> {
    let n = raw.chars().count();
    if n == 0 || n > 64 || raw.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            codes::TOKEN_NAME_INVALID,
            "token name: must be 1-64 characters without control characters",
        ));
    }
    Ok(raw.to_owned())
}

/// Identity and policy names: 1-64 of letters, digits, `-`, `_`, `.`, starting with a letter or digit.
pub(crate) fn object_name(code: &'static str, what: &str, raw: &str) -> CoreResult<String> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && raw.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !ok {
        return Err(CoreError::invalid(
            code,
            format!(
                "{what} name {}: 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit",
                quote_for_message(raw)
            ),
        ));
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_error(raw: &str) -> String {
        SecretName::parse(raw).unwrap_err().message
    }

    #[test]
    fn secret_names_follow_the_env_var_rules() {
        for good in ["A", "api_key", "Z9", "a_b_c_1", &"x".repeat(128)] {
            assert!(SecretName::parse(good).is_ok(), "{good}");
        }
        assert!(name_error("").contains("must not be empty"));
        assert!(name_error("1abc").contains("must begin with a letter"));
        assert!(name_error("_abc").contains("must begin with a letter"));
        assert!(name_error("a-b").contains("only letters, digits and underscore"));
        assert!(name_error("../x").contains("must begin with a letter"));
        assert!(name_error("a/b").contains("only letters, digits and underscore"));
        assert!(name_error("é").contains("must begin with a letter"));
        assert!(name_error(&"x".repeat(129)).contains("at most 128 characters"));
    }

    /// The rule, written independently of `SecretName::parse`.
    fn follows_the_rule(s: &str) -> bool {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && s.chars().count() <= NAME_MAX_CHARS
    }

    #[test]
    fn quoted_input_stays_short_however_it_escapes() {
        assert_eq!(quote_for_message("a\nb'c\"d"), r#""a\nb'c\"d""#);
        let hostile = "\u{202e}".repeat(40);
        let quoted = quote_for_message(&hostile);
        assert!(quoted.len() < 60, "{quoted}");
        assert!(quoted.ends_with("\"..."), "{quoted}");
        assert_eq!(quote_for_message(&"x".repeat(40)), format!("\"{}\"", "x".repeat(40)));
    }

    #[test]
    fn random_names_are_accepted_exactly_when_they_follow_the_rule() {
        use rand::Rng;
        let valid: Vec<char> = "aZq09_".chars().collect();
        let any: Vec<char> = "aZ09_-./ %é🔑\0\n\u{202e}".chars().collect();
        let mut rng = rand::thread_rng();
        let mut accepted = 0;
        for i in 0..20_000 {
            // Half the names use only allowed characters, so both answers are exercised.
            let alphabet = if i % 2 == 0 { &valid } else { &any };
            let len = rng.gen_range(0..140);
            let name: String = (0..len).map(|_| alphabet[rng.gen_range(0..alphabet.len())]).collect();
            accepted += usize::from(follows_the_rule(&name));
            let parsed = SecretName::parse(&name);
            assert_eq!(parsed.is_ok(), follows_the_rule(&name), "{name:?}");
            if let Err(e) = parsed {
                assert!(e.message.len() < 200, "messages stay short: {}", e.message);
            }
        }
        assert!(accepted > 1_000, "valid names were generated: {accepted}");
    }

    #[test]
    fn limits_are_enforced_with_messages_naming_the_field() {
        assert!(description(Some("d".repeat(1024))).is_ok());
        assert!(
            description(Some("d".repeat(1025)))
                .unwrap_err()
                .message
                .starts_with("description:")
        );
        assert!(
            metadata(Some(serde_json::json!([1])))
                .unwrap_err()
                .message
                .contains("JSON object")
        );
        let big = serde_json::json!({ "k": "v".repeat(METADATA_MAX_BYTES) });
        assert!(metadata(Some(big)).unwrap_err().message.contains("16 KiB"));
        let many: BTreeMap<_, _> = (0..51).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert!(tags(Some(many)).unwrap_err().message.contains("at most 50"));
        let bad_key: BTreeMap<_, _> = [("a b".to_owned(), "v".to_owned())].into();
        assert!(tags(Some(bad_key)).is_err());
    }

    #[test]
    fn emails_and_workspace_names() {
        assert_eq!(email(" Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in ["", "ann", "@x", "a@", "a b@x", "a@b@c"] {
            assert!(email(bad).is_err(), "{bad}");
        }
        assert!(workspace_name("team-1").is_ok());
        for bad in ["", "-a", "A", "a_b", &"a".repeat(64)] {
            assert!(workspace_name(bad).is_err(), "{bad}");
        }
    }
}
