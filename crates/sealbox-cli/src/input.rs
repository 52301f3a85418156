//! Raw command-line input turned into checked values: tags, lifetimes, metadata and secret values.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use sealbox_types::SecretType;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::usage;

/// `--tag K=V` flags as a map. A flag without `=`, with an empty key, or a key given twice is refused.
pub fn parse_tags(raw: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    parse_tag_flags("--tag", raw)
}

/// The same for another `K=V` flag, named in the errors (e.g. `--secret-tag`).
pub fn parse_tag_flags(flag: &str, raw: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut tags = BTreeMap::new();
    for tag in raw {
        let Some((key, value)) = tag.split_once('=') else {
            usage!("{flag} must be KEY=VALUE, got {tag:?}");
        };
        if key.is_empty() {
            usage!("{flag} must be KEY=VALUE with a non-empty KEY, got {tag:?}");
        }
        if tags.insert(key.to_owned(), value.to_owned()).is_some() {
            usage!("{flag} {key:?} is given more than once");
        }
    }
    Ok(tags)
}

/// A `KEY=VALUE` argument (not a secret: identity variables). The value may be empty or hold `=`.
pub fn parse_assignment(raw: &str) -> anyhow::Result<(String, String)> {
    match raw.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        Some(_) => usage!("expected KEY=VALUE with a non-empty KEY, got {raw:?}"),
        None => usage!("expected KEY=VALUE, got {raw:?} (use KEY= for an empty value)"),
    }
}

/// The same, checked, as the `K=V` values of the `tag` query.
pub fn parse_tag_filters(raw: &[String]) -> anyhow::Result<Vec<String>> {
    Ok(parse_tags(raw)?.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

/// A lifetime such as `1y`, `30d`, `12h`, `15m` or `3600s`, in seconds (a year is 365 days, as
/// the server counts its 10-year limit).
pub fn parse_ttl(raw: &str) -> anyhow::Result<u64> {
    parse_ttl_flag("--ttl", raw)
}

/// A lifetime given to `flag`, as [`parse_ttl`] reads it.
pub fn parse_ttl_flag(flag: &str, raw: &str) -> anyhow::Result<u64> {
    let bad = || {
        anyhow::Error::new(crate::UsageError(format!(
            "{flag} must be a positive whole number followed by s, m, h, d or y (e.g. 30d or 1y), got {raw:?}"
        )))
    };
    let unit_at = raw.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = raw.split_at_checked(unit_at).ok_or_else(bad)?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "y" => 365 * 86_400,
        _ => return Err(bad()),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = number.parse().map_err(|_| bad())?;
    match n.checked_mul(scale) {
        Some(0) | None => Err(bad()),
        Some(seconds) => Ok(seconds),
    }
}

/// Which token `token revoke` means: its id, or the token itself (pasted, e.g. a leaked one).
pub enum TokenRef {
    Id(String),
    Value(SecretString),
}

/// An id (32 hex digits), a token (`sbx_...`), or `-` to read the token from stdin.
pub fn parse_token_ref(raw: &str) -> anyhow::Result<TokenRef> {
    let raw = if raw == "-" {
        let read = read_stdin().context("cannot read the token from stdin")?;
        // EXPOSE: only trimmed; it goes on as a secret.
        read.expose_secret().trim().to_owned()
    } else {
        raw.trim().to_owned()
    };
    if raw.starts_with("sbx_") {
        return Ok(TokenRef::Value(SecretString::from(raw)));
    }
    if raw.is_empty() {
        usage!("give the token's id (`sealbox token list` shows it) or the token itself (sbx_...)");
    }
    Ok(TokenRef::Id(raw))
}

/// How a token given by value is named in messages: `sbx_` and its first 8 characters, as token
/// lists show them (the rest stays unsaid).
pub fn token_label(token: &SecretString) -> String {
    // EXPOSE: only the first characters, which lists show anyway.
    let shown = token.expose_secret().get(4..12).unwrap_or("");
    format!("sbx_{shown}...")
}

/// `--metadata JSON`: must be a JSON object.
pub fn parse_metadata(raw: &str) -> anyhow::Result<Value> {
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => usage!("--metadata must be a JSON object such as '{{\"owner\":\"ops\"}}'"),
        Err(e) => usage!("--metadata is not valid JSON: {e}"),
    }
}

/// Where a secret value comes from. Never an argument.
pub enum ValueSource {
    Stdin,
    File(PathBuf),
    Prompt,
}

/// Reads a value and shapes it for its type: the raw string for `text` (one trailing newline
/// from stdin or a file dropped), a JSON object for the structured types.
///
/// Errors never quote the value.
pub fn read_value(source: &ValueSource, name: &str, t: SecretType) -> anyhow::Result<Value> {
    let raw = match source {
        ValueSource::Stdin => strip_newline(read_stdin().context("cannot read the value from stdin")?),
        ValueSource::File(path) => strip_newline(read_file(path)?),
        ValueSource::Prompt => {
            let hint = if t == SecretType::Text { "" } else { " (a JSON object)" };
            let value = rpassword::prompt_password(format!("value of {name}{hint}: "))
                .context("cannot read the value from the terminal")?;
            SecretString::from(value)
        }
    };
    // EXPOSE: the value goes into the request body, and nowhere else.
    let raw = raw.expose_secret();
    if t == SecretType::Text {
        return Ok(Value::String(raw.to_owned()));
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => bail!("the value of a {} secret must be a JSON object", t.as_str()),
        // Only the position: serde's message may quote the input.
        Err(e) => bail!(
            "the value of a {} secret must be a JSON object; it is not valid JSON (line {}, column {})",
            t.as_str(),
            e.line(),
            e.column()
        ),
    }
}

/// All of stdin, e.g. a password or value piped in.
pub fn read_stdin() -> anyhow::Result<SecretString> {
    let mut buf = Vec::new();
    std::io::stdin().read_to_end(&mut buf)?;
    let text = String::from_utf8(buf).map_err(|_| anyhow::anyhow!("the input is not UTF-8 text"))?;
    Ok(SecretString::from(text))
}

/// True when stdin is a pipe, a socket or a regular file: something that may hold a piped value,
/// unlike a terminal or a device such as /dev/null.
pub fn stdin_is_pipe_or_file() -> bool {
    use std::os::fd::AsFd as _;
    use std::os::unix::fs::FileTypeExt as _;
    let kind = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .and_then(|fd| std::fs::File::from(fd).metadata())
        .map(|m| m.file_type());
    kind.is_ok_and(|k| k.is_fifo() || k.is_socket() || k.is_file())
}

fn read_file(path: &Path) -> anyhow::Result<SecretString> {
    if path == Path::new("-") {
        return read_stdin().context("cannot read the value from stdin");
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read --value-file {}", path.display()))?;
    let text =
        String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("--value-file {} is not UTF-8 text", path.display()))?;
    Ok(SecretString::from(text))
}

/// Drops exactly one trailing `\n` (the one `echo` and editors add).
pub fn strip_newline(s: SecretString) -> SecretString {
    // EXPOSE: only to copy it into a new secret without its last newline.
    match s.expose_secret().strip_suffix('\n') {
        Some(stripped) => SecretString::from(stripped.to_owned()),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        let tags = parse_tags(&["env=prod".into(), "url=a=b".into(), "empty=".into()]).unwrap();
        assert_eq!(tags["env"], "prod");
        assert_eq!(tags["url"], "a=b");
        assert_eq!(tags["empty"], "");
        let e = parse_tags(&["x".into()]).unwrap_err();
        assert_eq!(e.to_string(), r#"--tag must be KEY=VALUE, got "x""#);
        assert!(e.is::<crate::UsageError>());
        assert!(parse_tags(&["=v".into()]).is_err());
        assert!(parse_tags(&["a=1".into(), "a=2".into()]).is_err());
    }

    #[test]
    fn named_tag_flags_and_assignments() {
        let e = parse_tag_flags("--secret-tag", &["x".into()]).unwrap_err();
        assert_eq!(e.to_string(), r#"--secret-tag must be KEY=VALUE, got "x""#);
        assert_eq!(parse_assignment("A=b=c").unwrap(), ("A".to_owned(), "b=c".to_owned()));
        assert_eq!(parse_assignment("A=").unwrap(), ("A".to_owned(), String::new()));
        for bad in ["novalue", "=v", ""] {
            let e = parse_assignment(bad).unwrap_err();
            assert!(e.is::<crate::UsageError>(), "{bad:?}");
        }
    }

    #[test]
    fn ttl() {
        assert_eq!(parse_ttl("30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_ttl("12h").unwrap(), 12 * 3600);
        assert_eq!(parse_ttl("15m").unwrap(), 900);
        assert_eq!(parse_ttl("3600s").unwrap(), 3600);
        assert_eq!(parse_ttl("1y").unwrap(), 365 * 86_400);
        assert_eq!(parse_ttl("10y").unwrap(), 10 * 365 * 86_400);
        for bad in [
            "",
            "d",
            "30",
            "0s",
            "-1d",
            "+1d",
            "1.5h",
            "1w",
            "30dd",
            "99999999999999999999d",
            "ñ",
        ] {
            assert!(parse_ttl(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn metadata() {
        assert!(parse_metadata(r#"{"a":1}"#).is_ok());
        assert!(parse_metadata("[1]").is_err());
        assert!(parse_metadata("{").is_err());
    }

    #[test]
    fn one_newline_is_stripped() {
        let s = |v: &str| {
            strip_newline(SecretString::from(v.to_owned()))
                .expose_secret()
                .to_owned()
        };
        assert_eq!(s("abc\n"), "abc");
        assert_eq!(s("abc\n\n"), "abc\n");
        assert_eq!(s("abc"), "abc");
    }
}
