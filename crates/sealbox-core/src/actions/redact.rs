//! What a destination answers is shown only redacted: every value a run opened is replaced with
//! [`REDACTED`] by sealbox-redact's engine, the one `sealbox run` uses too.

use std::collections::BTreeMap;

use serde_json::Value;

use super::definition::Compiled;
use super::render::Opened;
use crate::template::Segment;

/// The longest text from a destination shown in an error or an e-mail server's reply.
const MAX_PEER_TEXT: usize = 1000;

pub const REDACTED: &str = "[REDACTED]";

/// Replaces every occurrence of secret values in what a destination answered with `[REDACTED]`,
/// however the peer may have spelt them: the matcher is `sealbox_redact::Redactor`, the one
/// `sealbox run` uses too (its documentation lists the spellings).
pub struct Redactor(sealbox_redact::Redactor);

impl Redactor {
    /// `values`: each referenced secret's value (a structured one as its JSON text) and, for
    /// structured secrets, each field of 4 characters or more; every one is redacted, whatever
    /// its length.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        Self(sealbox_redact::Redactor::new(values))
    }

    pub fn bytes(&self, input: &[u8]) -> Vec<u8> {
        self.0.redact(input, REDACTED.as_bytes())
    }

    pub fn text(&self, input: &str) -> String {
        self.0.redact_text(input, REDACTED)
    }
}

/// The redactor for one run: every value it opened.
pub(super) fn redactor_for(opened: &BTreeMap<String, Opened>, compiled: &Compiled) -> Redactor {
    let mut values: Vec<String> = Vec::new();
    // Every field the action references, whatever its length: it is sent; and the sensitive
    // fields of its account secret (an e-mail's or SQS action's).
    if let Some(account) = compiled.account()
        && let Some(o) = opened.get(&account.name)
    {
        values.extend(o.secret.kind().sensitive_texts(&o.value));
    }
    for field in compiled.fields() {
        for segment in &field.segments {
            if let Segment::Secret(r) = segment
                && let (Some(o), Some(name)) = (opened.get(&r.name), &r.field)
                && let Ok(text) = o.secret.kind().reference_text(&o.value, Some(name))
            {
                values.push(text);
            }
        }
    }
    for o in opened.values() {
        match &o.value {
            Value::String(text) => values.push(text.clone()),
            structured => {
                values.push(structured.to_string());
                if let Value::Object(fields) = structured {
                    for field in fields.values() {
                        let text = match field {
                            Value::String(s) => s.clone(),
                            Value::Null => continue,
                            other => other.to_string(),
                        };
                        if text.chars().count() >= 4 {
                            values.push(text);
                        }
                    }
                }
            }
        }
    }
    Redactor::new(values.iter().map(String::as_str))
}

/// Text that may come from the destination, as it is shown: every value redacted first, then
/// control characters dropped and the text shortened to [`MAX_PEER_TEXT`] characters (in that
/// order: a value cut short could no longer be recognised).
pub(super) fn peer_text(redactor: &Redactor, text: &str) -> String {
    let redacted = redactor.text(text);
    let mut out = String::with_capacity(redacted.len().min(MAX_PEER_TEXT * 4));
    let mut count = 0;
    let mut last_space = false;
    for c in redacted.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && last_space {
            continue;
        }
        if count == MAX_PEER_TEXT {
            out.push('…');
            break;
        }
        last_space = c == ' ';
        out.push(c);
        count += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_redacted_by_the_shared_engine_with_core_replacement() {
        // The spellings are sealbox-redact's table (run there whole and streamed); here: core's
        // replacement text, and every value given is redacted, however short (referenced fields).
        let r = Redactor::new(["s3cr3t value/+&=", "tiny"]);
        assert_eq!(
            r.text("a s3cr3t%20value%2F%2B%26%3D b s3cr3t+value%2F%2B%26%3D c tiny"),
            "a [REDACTED] b [REDACTED] c [REDACTED]"
        );
        assert_eq!(r.bytes(b"\xff nothing \xfe"), b"\xff nothing \xfe");
    }
}
