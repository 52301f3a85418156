//! `.env` files. Reading (import) takes them as common dotenv tools write them: `KEY=value`, an
//! optional `export ` prefix, `#` comments, single quotes (literal), double quotes (with `\n`,
//! `\t`, `\"`, `\\`, `\$` escapes, and able to span lines), and unquoted values ending at ` #`.
//!
//! Writing (export) has four readers to satisfy at once: `set -a; . ./file` in sh (dash) and
//! bash, this module's `parse`, and python-dotenv (which expands `${...}` inside any quotes and
//! knows only `\\` and `\'` in single quotes). See [`line`].

/// One `KEY=value` of a file and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// Every entry, or every problem (`line N: ...`) so the caller writes nothing. An empty value is
/// a problem: a secret holds at least one character.
pub fn parse(text: &str) -> Result<Vec<Entry>, Vec<String>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let number = i + 1;
        let line = lines[i].trim_start();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export")
            .filter(|rest| rest.starts_with([' ', '\t']))
            .map_or(line, str::trim_start);
        let Some((key, rest)) = line.split_once('=') else {
            problems.push(format!("line {number}: expected KEY=VALUE"));
            continue;
        };
        let key = key.trim();
        if !is_name(key) {
            problems.push(format!(
                "line {number}: {key:?} is not a valid name (letters, digits and underscore, starting with a letter)"
            ));
        }
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => {
                // The value may go on over the next lines until its closing quote.
                let mut body = rest[1..].to_owned();
                loop {
                    if let Some((value, after)) = closing(&body, quote) {
                        let after = after.trim_start();
                        if !after.is_empty() && !after.starts_with('#') {
                            problems.push(format!("line {number}: unexpected text after the closing quote"));
                        }
                        break Some(value);
                    }
                    if i >= lines.len() {
                        problems.push(format!("line {number}: the quoted value is never closed"));
                        break None;
                    }
                    body.push('\n');
                    body.push_str(lines[i]);
                    i += 1;
                }
            }
            _ => Some(match rest.find(" #").or_else(|| rest.find("\t#")) {
                Some(at) => rest[..at].trim_end().to_owned(),
                None => rest.trim_end().to_owned(),
            }),
        };
        if value.as_deref() == Some("") {
            problems.push(format!(
                "line {number}: {key} is empty; a secret holds at least one character (give it a value or remove the line)"
            ));
        } else if let Some(value) = value {
            entries.push(Entry {
                key: key.to_owned(),
                value,
                line: number,
            });
        }
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        Err(problems)
    }
}

/// The value up to the closing `quote` (unescaped) and what follows it.
fn closing(body: &str, quote: char) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c == quote => return Some((value, &body[at + c.len_utf8()..])),
            '\\' if quote == '"' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, e @ ('"' | '\\' | '$'))) => value.push(e),
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => value.push('\\'),
            },
            other => value.push(other),
        }
    }
    None
}

fn is_name(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && key.chars().count() <= 128
}

/// Characters after which `$` inside double quotes stays a plain `$` in sh, dash and bash; after
/// any other (a letter, digit, `_`, `{`, `(`, `[`, `$`, `!`, `#`, `?` ...) it starts an expansion.
const PLAIN_AFTER_DOLLAR: &str = " \t\n\"'%&)+,./:;<=>\\]^|}~";

/// `KEY='value'`, or `KEY="value"` (with `\\` and `\"`) when single quotes cannot carry it: the
/// one form that sh, bash, `parse` and python-dotenv all read back as exactly `value`, and that
/// runs nothing when sourced. A value no such line can carry is refused with the reason (it
/// never holds the value).
pub fn line(key: &str, value: &str) -> Result<String, &'static str> {
    if value.contains('\0') {
        return Err("it holds a NUL character, which no environment variable can hold");
    }
    if value.contains('\r') {
        return Err("it holds a carriage return, which python-dotenv reads as a line break");
    }
    if value.contains("${") {
        return Err("it holds `${`, which python-dotenv expands inside any quotes");
    }
    if value.ends_with('\\') {
        return Err("it ends with a backslash, which python-dotenv reads as escaping the closing quote");
    }
    // Single quotes: literal for the shells and `parse`; python-dotenv reads `\\` as one
    // backslash there.
    if !value.contains('\'') && !value.contains("\\\\") {
        return Ok(format!("{key}='{value}'"));
    }
    let expands = value.contains('`')
        || value.char_indices().any(|(at, c)| {
            c == '$'
                && value[at + 1..]
                    .chars()
                    .next()
                    .is_some_and(|next| !PLAIN_AFTER_DOLLAR.contains(next))
        });
    if expands {
        return Err(
            "it holds a single quote or two backslashes in a row (which single quotes cannot carry) and a backtick or `$` before a name (which double quotes would expand)",
        );
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            other => quoted.push(other),
        }
    }
    Ok(format!("{key}=\"{quoted}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap().into_iter().map(|e| (e.key, e.value)).collect()
    }

    #[test]
    fn reads_what_common_dotenv_files_write() {
        let text = "# a comment\n\nexport API_KEY=abc123\nPLAIN = spaced value  # trailing comment\nHASH=a#b\n\
                    SINGLE='lit $HOME \\n'\nDOUBLE=\"tab\\there \\\"q\\\" \\$x\"\nMULTI=\"line one\nline two\"\n";
        assert_eq!(
            pairs(text),
            [
                ("API_KEY", "abc123"),
                ("PLAIN", "spaced value"),
                ("HASH", "a#b"),
                ("SINGLE", "lit $HOME \\n"),
                ("DOUBLE", "tab\there \"q\" $x"),
                ("MULTI", "line one\nline two"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        let entries = parse(text).unwrap();
        assert_eq!(entries.iter().find(|e| e.key == "MULTI").unwrap().line, 8);
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let problems = parse("OK=1\n1BAD=x\nno equals\nBAD-NAME=y\nEMPTY=\nOPEN=\"never closed\n").unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems[0].starts_with("line 2:"));
        assert!(problems[1].starts_with("line 3:"));
        assert!(problems[2].starts_with("line 4:"));
        assert!(problems[3].starts_with("line 5: EMPTY is empty"), "{problems:?}");
        assert!(problems[4].starts_with("line 6:") && problems[4].contains("never closed"));
    }

    #[test]
    fn what_export_writes_import_reads_back() {
        for value in [
            "plain",
            "with \"quotes\" and \\ and $HOME",
            "it's \"quoted\" \\\\ 5$ / $ 10",
            "a`touch PWNED`b $(x)",
            "two\nlines\n",
            "é🔑",
        ] {
            let text = line("K", value).unwrap();
            assert_eq!(pairs(&text), [("K".to_owned(), value.to_owned())], "{text}");
        }
    }

    #[test]
    fn values_no_line_can_carry_for_every_reader_are_refused() {
        for value in [
            "it's $HOME",
            "it's `x`",
            "a\\\\b$$",
            "${HOME}",
            "ends\\",
            "cr\r\nlf",
            "nul\0",
        ] {
            assert!(line("K", value).is_err(), "{value:?}");
        }
        assert_eq!(line("K", "a $ b").unwrap(), "K='a $ b'");
        assert_eq!(line("K", "it's 5$").unwrap(), "K=\"it's 5$\"");
    }
}
