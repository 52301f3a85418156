//! `{secrets.NAME}` / `{secrets.NAME.field}` templates, with `{{` and `}}` for literal braces.
//! Parsing is all-or-nothing: every problem is reported with its line, and nothing is rendered
//! half way. Action fields ([`parse_with_inputs`]) also take `{input.KEY}`.

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    Secret(Reference),
    /// `{input.KEY}`; only from [`parse_with_inputs`].
    Input(InputReference),
}

/// An `{input.KEY}` reference (a value given when an action runs) and the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputReference {
    pub key: String,
    pub line: usize,
}

/// A `{secrets.NAME}` or `{secrets.NAME.field}` reference and the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub name: String,
    pub field: Option<String>,
    pub line: usize,
}

impl Reference {
    /// As written in the template, for error messages.
    pub fn written(&self) -> String {
        match &self.field {
            Some(f) => format!("{{secrets.{}.{f}}}", self.name),
            None => format!("{{secrets.{}}}", self.name),
        }
    }
}

/// A problem found while parsing: `line N: what is wrong`.
pub type Problem = String;

pub fn parse(template: &str) -> Result<Vec<Segment>, Vec<Problem>> {
    parse_inner(template, false)
}

/// Like [`parse`], and `{input.KEY}` references too (keys are names like `order_id`).
pub fn parse_with_inputs(template: &str) -> Result<Vec<Segment>, Vec<Problem>> {
    parse_inner(template, true)
}

fn parse_inner(template: &str, inputs: bool) -> Result<Vec<Segment>, Vec<Problem>> {
    let mut segments = Vec::new();
    let mut problems = Vec::new();
    let mut text = String::new();
    let mut line = 1;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '}' => problems.push(format!("line {line}: a lone '}}'; write '}}}}' for a literal brace")),
            '{' => {
                let mut inner = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    inner.push(c);
                }
                let start_line = line;
                line += inner.matches('\n').count();
                if !closed {
                    problems.push(format!(
                        "line {start_line}: '{{' is never closed; write '{{{{' for a literal brace"
                    ));
                    continue;
                }
                let parsed = match inner.strip_prefix("input.") {
                    Some(key) if inputs => input_reference(key, &inner, start_line).map(Segment::Input),
                    _ => reference(&inner, start_line, inputs).map(Segment::Secret),
                };
                match parsed {
                    Ok(r) => {
                        if !text.is_empty() {
                            segments.push(Segment::Text(std::mem::take(&mut text)));
                        }
                        segments.push(r);
                    }
                    Err(p) => problems.push(p),
                }
            }
            '\n' => {
                line += 1;
                text.push('\n');
            }
            other => text.push(other),
        }
    }
    if !text.is_empty() {
        segments.push(Segment::Text(text));
    }
    if problems.is_empty() {
        Ok(segments)
    } else {
        Err(problems)
    }
}

/// A field or input key: a letter or `_`, then letters, digits or `_`.
fn is_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn input_reference(key: &str, inner: &str, line: usize) -> Result<InputReference, Problem> {
    if !is_key(key) {
        let shown = crate::validate::quote_for_message(inner);
        return Err(format!(
            "line {line}: {{{shown}}}: the input key must be a name like order_id (letters, digits, '_')"
        ));
    }
    Ok(InputReference {
        key: key.to_owned(),
        line,
    })
}

fn reference(inner: &str, line: usize, inputs: bool) -> Result<Reference, Problem> {
    let shown = crate::validate::quote_for_message(inner);
    let Some(path) = inner.strip_prefix("secrets.") else {
        let also = if inputs { " or {input.KEY}" } else { "" };
        return Err(format!(
            "line {line}: {{{shown}}} is not a reference; write {{secrets.NAME}} or {{secrets.NAME.field}}{also}, or '{{{{' for a literal brace"
        ));
    };
    let mut parts = path.split('.');
    let name = parts.next().unwrap_or_default();
    let field = parts.next();
    if parts.next().is_some() {
        return Err(format!(
            "line {line}: {{{shown}}} has too many parts; write {{secrets.NAME.field}}"
        ));
    }
    crate::validate::SecretName::parse(name).map_err(|e| format!("line {line}: {}", e.message))?;
    if let Some(f) = field
        && !is_key(f)
    {
        return Err(format!(
            "line {line}: {{{shown}}}: the field must be a name like password"
        ));
    }
    Ok(Reference {
        name: name.to_owned(),
        field: field.map(str::to_owned),
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, field: Option<&str>, line: usize) -> Segment {
        Segment::Secret(Reference {
            name: name.into(),
            field: field.map(Into::into),
            line,
        })
    }

    #[test]
    fn references_fields_and_escaped_braces() {
        let parsed = parse("url={secrets.DB_URL}\nauth: {{\"pw\": \"{secrets.MAIL.password}\"}}").unwrap();
        assert_eq!(
            parsed,
            vec![
                Segment::Text("url=".into()),
                secret("DB_URL", None, 1),
                Segment::Text("\nauth: {\"pw\": \"".into()),
                secret("MAIL", Some("password"), 2),
                Segment::Text("\"}".into()),
            ]
        );
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("{{}}").unwrap(), vec![Segment::Text("{}".into())]);
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let problems = parse("a {nope}\n{secrets.1BAD}\n{secrets.A.b.c} }\n{secrets.OPEN").unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems[0].starts_with("line 1:") && problems[0].contains("is not a reference"));
        assert!(problems[1].starts_with("line 2:") && problems[1].contains("must begin with a letter"));
        assert!(problems[2].starts_with("line 3:") && problems[2].contains("too many parts"));
        assert!(problems[3].starts_with("line 3:") && problems[3].contains("lone"));
        assert!(problems[4].starts_with("line 4:") && problems[4].contains("never closed"));
    }

    #[test]
    fn action_fields_take_input_references_and_templates_do_not() {
        let parsed = parse_with_inputs("Bearer {secrets.API.token} for {input.order_id}").unwrap();
        assert_eq!(
            parsed,
            vec![
                Segment::Text("Bearer ".into()),
                secret("API", Some("token"), 1),
                Segment::Text(" for ".into()),
                Segment::Input(InputReference {
                    key: "order_id".into(),
                    line: 1
                }),
            ]
        );
        let problems = parse("{input.order_id}").unwrap_err();
        assert!(problems[0].contains("is not a reference"), "{problems:?}");
        let problems = parse_with_inputs("{input.} {input.a-b} {nope}").unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("input key"), "{problems:?}");
        assert!(problems[2].contains("{input.KEY}"), "{problems:?}");
    }

    #[test]
    fn random_input_never_panics_and_plain_text_round_trips() {
        use rand::Rng;
        let alphabet: Vec<char> = "{}secrets.AB_1 \n🔑x".chars().collect();
        let mut rng = rand::thread_rng();
        for _ in 0..5_000 {
            let s: String = (0..rng.gen_range(0..60))
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect();
            let _ = parse(&s);
            let _ = parse_with_inputs(&s);
            let plain: String = s.chars().filter(|c| *c != '{' && *c != '}').collect();
            let expected = if plain.is_empty() {
                vec![]
            } else {
                vec![Segment::Text(plain.clone())]
            };
            assert_eq!(parse(&plain).unwrap(), expected);
        }
    }
}
