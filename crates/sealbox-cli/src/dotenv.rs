//! `.env` files. Reading (import) takes them as common dotenv tools write them: `KEY=value`, an
//! optional `export ` prefix, `#` comments, single quotes (literal), double quotes (with `\n`,
//! `\t`, `\"`, `\\`, `\$` escapes, and able to span lines), unquoted values ending at ` #`, and
//! `${NAME}` in double-quoted and unquoted values, replaced by the value of the key NAME defined
//! earlier in the same file. A key defined again takes the later value (as sh and python-dotenv
//! do), so `KEY="${KEY}more"` appends. `${NAME}` of a key not defined earlier, or any other `${`,
//! is an error with its line: python-dotenv would read the importing user's environment or an
//! empty string there, and sh its own environment, so no reading of it is the file's alone.
//!
//! Writing (export) has four readers to satisfy at once: `set -a; . ./file` in sh (dash) and
//! bash, this module's `parse`, and python-dotenv 1.2.2 (`dotenv_values`, variables interpolated).
//! What each does, checked against dash 0.5, bash 5 and python-dotenv 1.2.2:
//! - Single quotes: the shells and `parse` take everything literally up to the next `'`.
//!   python-dotenv decodes `\\` and `\'` there, reads a `\` before the closing quote as escaping
//!   it, and expands `${NAME}` in them too (it interpolates every value after unquoting).
//! - Double quotes: the shells expand `$name`, `${...}`, `$(...)` and backticks and know the
//!   escapes `\\ \" \$` and `` \` ``; python-dotenv knows `\\ \" \' \a \b \f \n \r \t \v` (no
//!   `\$`, no `` \` ``), expands only `${NAME}` (and `${NAME:-default}`), and also reads a `\` before the
//!   closing quote as escaping it. A `$` before a space, a quote, `/` and the like, or before the
//!   closing quote, is a plain `$` for all of them.
//! - A line is one quoted value for python-dotenv: `KEY="a"'b'` is a parse error (the shells
//!   would join the two), so a value cannot switch quoting within a line.
//! - `${KEY}` of a key defined earlier in the same file: all of them substitute its value, and
//!   none expands the substituted text again (python-dotenv's `dotenv_values` takes the file's
//!   earlier value over the environment). `load_dotenv()`, which keeps a variable already in the
//!   environment, computes the chain from that variable but then does not set it.
//! - A carriage return: python-dotenv opens the file with universal newlines, so a raw CR reads
//!   as a line break, and only python-dotenv turns `\r` into one: no line gives both a CR.
//!
//! So a value that one line cannot carry (see [`lines`]) is written as a chain: `KEY='seed'` in
//! single quotes when it holds backticks, then `KEY="...${KEY}..."` lines in double quotes that
//! place the seed and append the rest, split so that each `$` before a name ends its line.

use std::collections::BTreeMap;

/// One `KEY=value` of a file and the line it starts on (for a key defined more than once, the
/// last definition).
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
    let mut entries: Vec<Entry> = Vec::new();
    let mut defined: BTreeMap<String, String> = BTreeMap::new();
    let mut problems: Vec<(usize, String)> = Vec::new();
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
            problems.push((number, format!("line {number}: expected KEY=VALUE")));
            continue;
        };
        let key = key.trim();
        if !is_name(key) {
            problems.push((
                number,
                format!(
                    "line {number}: {key:?} is not a valid name (letters, digits and underscore, starting with a letter)"
                ),
            ));
        }
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => {
                // The value may go on over the next lines until its closing quote.
                let mut body = rest[1..].to_owned();
                loop {
                    match closing(&body, quote, &defined) {
                        Ok(Some((value, after))) => {
                            let after = after.trim_start();
                            if !after.is_empty() && !after.starts_with('#') {
                                problems.push((
                                    number,
                                    format!("line {number}: unexpected text after the closing quote"),
                                ));
                            }
                            break Some(value);
                        }
                        Ok(None) if i < lines.len() => {
                            body.push('\n');
                            body.push_str(lines[i]);
                            i += 1;
                        }
                        Ok(None) => {
                            problems.push((number, format!("line {number}: the quoted value is never closed")));
                            break None;
                        }
                        Err(problem) => {
                            problems.push((number, format!("line {number}: {problem}")));
                            break None;
                        }
                    }
                }
            }
            _ => {
                let text = match rest.find(" #").or_else(|| rest.find("\t#")) {
                    Some(at) => rest[..at].trim_end(),
                    None => rest.trim_end(),
                };
                match interpolate(text, &defined) {
                    Ok(value) => Some(value),
                    Err(problem) => {
                        problems.push((number, format!("line {number}: {problem}")));
                        None
                    }
                }
            }
        };
        let Some(value) = value else { continue };
        defined.insert(key.to_owned(), value.clone());
        match entries.iter_mut().find(|e| e.key == key) {
            Some(entry) => {
                entry.value = value;
                entry.line = number;
            }
            None => entries.push(Entry {
                key: key.to_owned(),
                value,
                line: number,
            }),
        }
    }
    // Only the last definition of a key counts: `KEY=''` may start a chain that fills it.
    for entry in entries.iter().filter(|e| e.value.is_empty()) {
        let (number, key) = (entry.line, &entry.key);
        problems.push((
            number,
            format!(
                "line {number}: {key} is empty; a secret holds at least one character (give it a value or remove the line)"
            ),
        ));
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        problems.sort_by_key(|(number, _)| *number);
        Err(problems.into_iter().map(|(_, problem)| problem).collect())
    }
}

/// The value up to the closing `quote` (unescaped) and what follows it; `None` while the quote
/// is not closed. In double quotes `${NAME}` is replaced (see [`reference`]).
fn closing<'b>(
    body: &'b str,
    quote: char,
    defined: &BTreeMap<String, String>,
) -> Result<Option<(String, &'b str)>, String> {
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c == quote => return Ok(Some((value, &body[at + c.len_utf8()..]))),
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
            '$' if quote == '"' && body[at..].starts_with("${") => {
                let Some((replacement, length)) = reference(&body[at..], defined)? else {
                    return Ok(None);
                };
                value.push_str(replacement);
                // Skip the rest of the reference (its `$` is consumed already).
                for _ in body[at + 1..at + length].chars() {
                    chars.next();
                }
            }
            other => value.push(other),
        }
    }
    Ok(None)
}

/// An unquoted value with each `${NAME}` replaced (see [`reference`]).
fn interpolate(text: &str, defined: &BTreeMap<String, String>) -> Result<String, String> {
    let mut value = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        value.push_str(&rest[..at]);
        let Some((replacement, length)) = reference(&rest[at..], defined)? else {
            return Err("`${` without its closing `}`".to_owned());
        };
        value.push_str(replacement);
        rest = &rest[at + length..];
    }
    value.push_str(rest);
    Ok(value)
}

/// `${NAME}` at the start of `text`: the value of the key NAME defined earlier in the file and
/// the length of the reference; `None` when the `}` is not there (yet). NAME not defined
/// earlier, or anything but a name between the braces (`${NAME:-default}`), is an error: the
/// importing user's environment is no part of the file.
fn reference<'d>(text: &str, defined: &'d BTreeMap<String, String>) -> Result<Option<(&'d str, usize)>, String> {
    let Some(end) = text.find('}') else {
        return Ok(None);
    };
    let name = &text[2..end];
    // The text between the braces is part of a value: no message repeats it.
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(
            "a `${` is not `${NAME}`; only `${NAME}` of a key defined earlier in the file is expanded".to_owned(),
        );
    }
    match defined.get(name) {
        Some(value) => Ok(Some((value, end + 1))),
        None => Err(
            "a `${NAME}` names no key defined earlier in the file (import does not read your environment)".to_owned(),
        ),
    }
}

fn is_name(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && key.chars().count() <= 128
}

/// Characters after which `$` inside double quotes stays a plain `$` in sh, dash and bash; after
/// any other (a letter, digit, `_`, `{`, `(`, `[`, `$`, `!`, `#`, `?` ...) it starts an expansion.
const PLAIN_AFTER_DOLLAR: &str = " \t\n\"'%&)+,./:;<=>\\]^|}~";

/// Whether the `$` at byte `at` of `text` starts an expansion in double quotes; `None` when it is
/// the last character (what follows it on the line decides).
fn dollar_expands(text: &str, at: usize) -> Option<bool> {
    text[at + 1..]
        .chars()
        .next()
        .map(|next| !PLAIN_AFTER_DOLLAR.contains(next))
}

/// `text` reads the same inside single quotes for every reader: no `'`, no `\\` (python-dotenv
/// decodes it), no `\` at the end (python-dotenv reads `\'`), no `${` (python-dotenv expands it).
fn single_quotable(text: &str) -> bool {
    !text.contains('\'') && !text.contains("\\\\") && !text.ends_with('\\') && !text.contains("${")
}

/// `text`, escaped with `\\` and `\"`, reads the same inside double quotes for every reader when
/// it is followed by a `${KEY}` (`before_reference`) or by the closing quote: no backtick, no `$`
/// that would expand (one at the end is plain before the closing quote, not before `${KEY}`),
/// and no `\` before the closing quote (python-dotenv reads `\"`).
fn double_quotable(text: &str, before_reference: bool) -> bool {
    !text.contains('`')
        && text
            .char_indices()
            .all(|(at, c)| c != '$' || dollar_expands(text, at).map_or(!before_reference, |expands| !expands))
        && (before_reference || !text.ends_with('\\'))
}

fn double_quoted(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The lines that give `key` exactly `value` for sh, bash, `parse` and python-dotenv, and run
/// nothing when sourced. One line when one can: `KEY='value'`, or `KEY="value"` (with `\\` and
/// `\"`) when single quotes cannot carry it. Otherwise a chain (see [`chain`]). A value no chain
/// can carry is refused with the reason (which never holds the value).
pub fn lines(key: &str, value: &str) -> Result<Vec<String>, &'static str> {
    if value.contains('\0') {
        return Err("it holds a NUL character, which no environment variable can hold");
    }
    if value.contains('\r') {
        return Err(
            "it holds a carriage return, which python-dotenv reads as a line break (and only python-dotenv decodes \\r)",
        );
    }
    if single_quotable(value) {
        return Ok(vec![format!("{key}='{value}'")]);
    }
    if double_quotable(value, false) {
        return Ok(vec![format!("{key}=\"{}\"", double_quoted(value))]);
    }
    let written = if let (Some(first), Some(last)) = (value.find('`'), value.rfind('`')) {
        // Backticks only single quotes carry, and only a whole line is single-quoted, so one
        // seed holds them: the stretch from the first backtick to the last (grown to both sides
        // while single quotes still carry it), or else a lone backtick placed at each of them.
        let end = value[last..]
            .char_indices()
            .map(|(at, c)| last + at + c.len_utf8())
            .take_while(|&end| single_quotable(&value[first..end]))
            .last()
            .unwrap_or(last + 1);
        let start = value[..first]
            .char_indices()
            .rev()
            .map(|(at, _)| at)
            .take_while(|&at| single_quotable(&value[at..end]))
            .last()
            .unwrap_or(first);
        chain(key, value, Some(&value[start..end]), &[start]).or_else(|| {
            chain(
                key,
                value,
                Some("`"),
                &value.match_indices('`').map(|(at, _)| at).collect::<Vec<_>>(),
            )
        })
    } else if value.ends_with('\\') {
        // No line may end with a `\`: start from an empty value and place it after the `\`.
        chain(key, value, Some(""), &[value.len()])
    } else {
        chain(key, value, None, &[])
    };
    written.ok_or(if value.ends_with('\\') {
        "it ends with a backslash and also holds a backtick or a `$` before a name: no chain of .env lines reads the same in sh and python-dotenv"
    } else {
        "a single quote, `\\\\` or `${` lies between its backticks, and a `$` before a name or a backtick before the last of them: no chain of .env lines reads the same in sh and python-dotenv"
    })
}

/// `KEY='seed'` (when there is a seed), then `KEY="a${KEY}b${KEY}c"` placing a copy of the seed
/// at each of `copies` (byte offsets into `value`) among double-quoted text, then the rest of
/// the value appended in `KEY="${KEY}rest"` lines, each ending after a `$` that would expand
/// before the next character. `None` when a piece breaks the rules of its quoting.
fn chain(key: &str, value: &str, seed: Option<&str>, copies: &[usize]) -> Option<Vec<String>> {
    let mut lines = Vec::new();
    let mut placed = String::new();
    let mut done = 0;
    if let Some(seed) = seed {
        if !single_quotable(seed) {
            return None;
        }
        lines.push(format!("{key}='{seed}'"));
        for &at in copies {
            let text = &value[done..at];
            if !double_quotable(text, true) || !value[at..].starts_with(seed) {
                return None;
            }
            placed.push_str(&double_quoted(text));
            placed.push_str(&format!("${{{key}}}"));
            done = at + seed.len();
        }
    }
    let rest = &value[done..];
    let mut pieces = Vec::new();
    let mut from = 0;
    for (at, c) in rest.char_indices() {
        if c == '$' && dollar_expands(rest, at) == Some(true) {
            pieces.push(&rest[from..=at]);
            from = at + 1;
        }
    }
    if from < rest.len() {
        pieces.push(&rest[from..]);
    }
    for (n, piece) in pieces.into_iter().enumerate() {
        if !double_quotable(piece, false) {
            return None;
        }
        let before = if n == 0 {
            std::mem::take(&mut placed)
        } else {
            format!("${{{key}}}")
        };
        lines.push(format!("{key}=\"{before}{}\"", double_quoted(piece)));
    }
    if !placed.is_empty() {
        lines.push(format!("{key}=\"{placed}\""));
    }
    Some(lines)
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
    fn later_lines_read_earlier_keys_and_replace_them() {
        let text = "A=one\nB=\"${A} two\"\nC=${B}!\nS='${A}'\nE=\"\\${A}\"\nA=''\nA=\"${A}x\"\n";
        assert_eq!(
            pairs(text),
            [
                ("A", "x"),
                ("B", "one two"),
                ("C", "one two!"),
                ("S", "${A}"),
                ("E", "${A}")
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert_eq!(parse(text).unwrap()[0].line, 7, "the last definition's line");
    }

    #[test]
    fn expansions_of_anything_but_an_earlier_key_are_refused_with_their_line() {
        let problems = parse("A=\"${HOME}\"\nB=${A}\nC=\"${C:-x}\"\nD=x${\nOK=${OK}\n").unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        for (problem, line) in problems.iter().zip(1..) {
            assert!(problem.starts_with(&format!("line {line}:")), "{problems:?}");
        }
        assert!(problems[0].contains("no key defined earlier"), "{problems:?}");
        assert!(problems[2].contains("not `${NAME}`"), "{problems:?}");
        assert!(!problems.concat().contains("HOME"), "no value in errors: {problems:?}");
    }

    fn round_trip(value: &str) -> Vec<String> {
        let written = lines("K", value).unwrap_or_else(|why| panic!("{value:?}: {why}"));
        let text = written.join("\n") + "\n";
        assert_eq!(pairs(&text), [("K".to_owned(), value.to_owned())], "{text}");
        written
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
            "it's $HOME",
            "it's `x`",
            "a\\\\b$$",
            "${HOME}",
            "ends\\",
            "x$`y'z",
            "`'`",
            "a'b`c`d'e$f",
        ] {
            round_trip(value);
        }
    }

    #[test]
    fn values_one_line_carries_keep_one_line() {
        assert_eq!(round_trip("a $ b"), ["K='a $ b'"]);
        assert_eq!(round_trip("it's 5$"), ["K=\"it's 5$\""]);
    }

    #[test]
    fn other_values_are_chains_of_single_and_double_quoted_pieces() {
        assert_eq!(round_trip("it's `date` $x"), ["K='s `date` $x'", "K=\"it'${K}\""]);
        assert_eq!(
            round_trip("it's $x${y}"),
            ["K=\"it's $\"", "K=\"${K}x$\"", "K=\"${K}{y}\""]
        );
        assert_eq!(round_trip("it's\\"), ["K=''", "K=\"it's\\\\${K}\""]);
    }

    #[test]
    fn values_no_chain_can_carry_for_every_reader_are_refused() {
        for value in ["`'$`", "`x'$y`", "`ends\\", "$x\\", "cr\r\nlf", "nul\0"] {
            assert!(lines("K", value).is_err(), "{value:?}");
        }
    }
}
