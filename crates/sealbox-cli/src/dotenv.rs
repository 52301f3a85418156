//! `.env` files as common dotenv tools write them: `KEY=value`, an optional `export ` prefix,
//! `#` comments, single quotes (literal), double quotes (with `\n`, `\t`, `\"`, `\\`, `\$`
//! escapes, and able to span lines), and unquoted values ending at ` #`.

/// One `KEY=value` of a file and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// Every entry, or every problem (`line N: ...`) so the caller writes nothing.
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
        if let Some(value) = value {
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

/// `KEY="value"` with the escapes `parse` reads back.
pub fn line(key: &str, value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '$' => quoted.push_str("\\$"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            other => quoted.push(other),
        }
    }
    format!("{key}=\"{quoted}\"")
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
                    SINGLE='lit $HOME \\n'\nDOUBLE=\"tab\\there \\\"q\\\" \\$x\"\nMULTI=\"line one\nline two\"\nEMPTY=\n";
        assert_eq!(
            pairs(text),
            [
                ("API_KEY", "abc123"),
                ("PLAIN", "spaced value"),
                ("HASH", "a#b"),
                ("SINGLE", "lit $HOME \\n"),
                ("DOUBLE", "tab\there \"q\" $x"),
                ("MULTI", "line one\nline two"),
                ("EMPTY", ""),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        let entries = parse(text).unwrap();
        assert_eq!(entries.iter().find(|e| e.key == "MULTI").unwrap().line, 8);
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let problems = parse("OK=1\n1BAD=x\nno equals\nBAD-NAME=y\nOPEN=\"never closed\n").unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].starts_with("line 2:"));
        assert!(problems[1].starts_with("line 3:"));
        assert!(problems[2].starts_with("line 4:"));
        assert!(problems[3].starts_with("line 5:") && problems[3].contains("never closed"));
    }

    #[test]
    fn what_export_writes_import_reads_back() {
        for value in ["plain", "with \"quotes\" and \\ and $HOME", "two\nlines", "", "é🔑"] {
            let text = line("K", value);
            assert_eq!(pairs(&text), [("K".to_owned(), value.to_owned())], "{text}");
        }
    }
}
