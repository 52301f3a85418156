//! How run-time input (`{input.KEY}`) is put into a rendered field, so that it can never change
//! the structure the admin wrote: each field has a [`Placement`], fixed when the definition is
//! checked, and a [`Placer`] encodes (or refuses) each input for where it lands in that field.
//! Secret references are not encoded here: where a secret goes is the admin's choice.

use std::ops::Range;

/// Where a field's input lands, and so how it is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Placement {
    /// An HTTP action's URL: percent-encoded (every byte but `A-Za-z0-9-._~`) as one path segment,
    /// or one query value after the admin's `?`; a path segment made only of it and its
    /// neighbours must not become empty, `.` or `..`.
    Url,
    /// An HTTP header value: printable ASCII only, so it cannot add lines.
    Header,
    /// A JSON body: JSON-string-escaped inside a string literal the admin wrote; outside one, a
    /// JSON number, `true`, `false` or `null`.
    Json,
    /// An `application/x-www-form-urlencoded` body: percent-encoded as one value.
    Form,
    /// An e-mail's HTML: HTML-escaped.
    Html,
    /// An e-mail address (from, to, cc, bcc): one address or part of one, so none of the
    /// characters that separate, quote or bracket addresses, and no control characters.
    Address,
    /// One line of text (an e-mail subject): no line breaks or control characters.
    Line,
    /// As given: HTTP query values (the sender encodes each whole value), the method, an e-mail's
    /// text, an SQS text body, attributes and ids (the sender encodes or checks them).
    Text,
}

/// What a body's `Content-Type` (written out in the definition) says about input in the body:
/// `type/json` or `type/...+json` is JSON, `application/x-www-form-urlencoded` a form; anything
/// else, or no `Content-Type`, is text.
pub(super) fn body_placement(content_type: Option<&str>) -> Placement {
    let Some(content_type) = content_type else {
        return Placement::Text;
    };
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let subtype = media_type.split_once('/').map_or("", |(_, subtype)| subtype);
    if subtype == "json" || subtype.ends_with("+json") {
        Placement::Json
    } else if media_type == "application/x-www-form-urlencoded" {
        Placement::Form
    } else {
        Placement::Text
    }
}

/// An SQS message has no content type: a body whose text starts with `{` (written `{{`) or `[`
/// is JSON.
pub(super) fn sqs_body_placement(written: &str) -> Placement {
    let written = written.trim_start();
    if written.starts_with("{{") || written.starts_with('[') {
        Placement::Json
    } else {
        Placement::Text
    }
}

/// Puts the inputs of one field as it is rendered: it is told the admin's text ([`Placer::text`])
/// and puts each input ([`Placer::input`]) into the output; [`Placer::finish`] checks what can
/// only be checked on the whole (a URL's path segments).
pub(super) struct Placer {
    placement: Placement,
    /// URL: no `?` or `#` written yet.
    in_path: bool,
    /// URL: each input put into the path, by key, and where it is in the output.
    path_inputs: Vec<(String, Range<usize>)>,
    json: JsonScan,
}

/// Whether the admin's JSON text so far leaves the next character inside a string literal.
#[derive(Default)]
struct JsonScan {
    in_string: bool,
    escaped: bool,
}

impl JsonScan {
    fn feed(&mut self, text: &str) {
        for c in text.chars() {
            if !self.in_string {
                self.in_string = c == '"';
            } else if self.escaped {
                self.escaped = false;
            } else if c == '\\' {
                self.escaped = true;
            } else if c == '"' {
                self.in_string = false;
            }
        }
    }
}

/// Characters an input in an e-mail address may not hold: they separate (`,` `;`), bracket
/// (`<` `>` `[` `]`), quote (`"` `\`), comment (`(` `)`) or group (`:`) addresses.
const ADDRESS_SYNTAX: &[char] = &[',', ';', '<', '>', '[', ']', '"', '\\', '(', ')', ':'];

impl Placer {
    pub(super) fn new(placement: Placement) -> Self {
        Self {
            placement,
            in_path: true,
            path_inputs: Vec::new(),
            json: JsonScan::default(),
        }
    }

    /// Text the admin wrote, as it goes into the output.
    pub(super) fn text(&mut self, text: &str) {
        match self.placement {
            Placement::Url if text.contains(['?', '#']) => self.in_path = false,
            Placement::Json => self.json.feed(text),
            _ => {}
        }
    }

    /// Puts `value`, the input `key`, at the end of `out`, or says why it cannot go there.
    pub(super) fn input(&mut self, out: &mut String, key: &str, value: &str) -> Result<(), String> {
        match self.placement {
            Placement::Url => {
                let start = out.len();
                out.push_str(&percent_encode(value));
                if self.in_path {
                    self.path_inputs.push((key.to_owned(), start..out.len()));
                }
            }
            Placement::Header => {
                if !value.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
                    return Err(
                        "may hold only printable ASCII characters (no line breaks or control characters)".into(),
                    );
                }
                out.push_str(value);
            }
            Placement::Json if self.json.in_string => {
                // It stands for characters of the string, so an escape written before it is used up.
                self.json.escaped = false;
                // A `\` written (or from a secret) right before it would escape its first character.
                if trailing_backslashes(out) % 2 == 1 {
                    return Err(
                        "follows a '\\' that would escape its first character; the definition must not put one right before it"
                            .into(),
                    );
                }
                out.push_str(&json_string_content(value));
            }
            Placement::Json => {
                let scalar = matches!(
                    serde_json::from_str::<serde_json::Value>(value),
                    Ok(serde_json::Value::Number(_) | serde_json::Value::Bool(_) | serde_json::Value::Null)
                );
                if !scalar {
                    return Err(
                        "stands for a JSON value (it is outside quotes in the body); give a number, true, false or null"
                            .into(),
                    );
                }
                out.push_str(value.trim());
            }
            Placement::Form => out.push_str(&percent_encode(value)),
            Placement::Html => out.push_str(&html_escape(value)),
            Placement::Address => {
                if value.contains(ADDRESS_SYNTAX) || value.chars().any(char::is_control) {
                    return Err(
                        "may not hold , ; < > [ ] \" \\ ( ) : or control characters; give one address or part of one"
                            .into(),
                    );
                }
                out.push_str(value);
            }
            Placement::Line => {
                if value.chars().any(char::is_control) {
                    return Err("may not hold line breaks or control characters".into());
                }
                out.push_str(value);
            }
            Placement::Text => out.push_str(value),
        }
        Ok(())
    }

    /// Once the field is rendered: `(key, problem)` for each input that made a path segment
    /// empty, `.` or `..` (in any spelling the URL parser reads as one, like `%2E%2E`: the parser
    /// would remove it and the segment before it, so the request would go to another path).
    pub(super) fn finish(self, out: &str) -> Vec<(String, String)> {
        let path_end = out.find(['?', '#']).unwrap_or(out.len());
        let mut problems: Vec<(String, String)> = Vec::new();
        for (key, range) in self.path_inputs {
            if range.end > path_end {
                continue;
            }
            let start = out[..range.start].rfind(['/', '\\']).map_or(0, |i| i + 1);
            let end = out[range.end..path_end]
                .find(['/', '\\'])
                .map_or(path_end, |i| range.end + i);
            let segment = out[start..end].to_ascii_lowercase().replace("%2e", ".");
            if matches!(segment.as_str(), "" | "." | "..") {
                problems.push((
                    key,
                    "would make a path segment empty, \".\" or \"..\", which changes the path; give another value"
                        .to_owned(),
                ));
            }
        }
        problems
    }
}

fn trailing_backslashes(text: &str) -> usize {
    text.chars().rev().take_while(|c| *c == '\\').count()
}

/// Every byte but the unreserved `A-Za-z0-9-._~` as `%XX`: one path segment, query value or form
/// value, whatever it holds (`/ ? # & = + %` and spaces included).
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `value` as the inside of a JSON string literal (`"`, `\` and control characters escaped).
fn json_string_content(value: &str) -> String {
    let quoted = serde_json::Value::from(value).to_string();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned()
}

fn html_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use sealbox_crypto::ExposeSecret;
    use sealbox_types::{ActionDefinition, EmailActionSpec, HttpActionSpec, SqsActionSpec};

    use super::super::definition::{Compiled, Field, compile};
    use super::super::render::Renderer;

    fn http(url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Compiled {
        compile(&ActionDefinition::Http(HttpActionSpec {
            method: "POST".into(),
            url: url.into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            query: BTreeMap::new(),
            body: body.map(Into::into),
        }))
        .unwrap()
    }

    /// The checked field named `name` (as error messages name it).
    fn field<'a>(c: &'a Compiled, name: &str) -> &'a Field {
        c.fields().into_iter().find(|f| f.name == name).unwrap()
    }

    fn url_of(c: &Compiled) -> &Field {
        field(c, "url")
    }

    fn body_of(c: &Compiled) -> &Field {
        field(c, "body")
    }

    /// Renders one field with `input`: its text, or the input problems.
    fn render(field: &Field, input: &[(&str, &str)]) -> Result<String, String> {
        let input: BTreeMap<String, String> = input.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let opened = BTreeMap::new();
        let mut r = Renderer::new(&opened, &input);
        let out = r.field(field);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        if r.input_problems.is_empty() {
            Ok(out.expose_secret().to_owned())
        } else {
            Err(r.input_problems.join("; "))
        }
    }

    /// Issue 9: `order = ../../admin/delete-all?confirm=yes#` went to `/admin/delete-all?confirm=yes`.
    #[test]
    fn input_in_a_url_path_is_one_segment() {
        let c = http("https://host.example/orders/{input.order}/notify", &[], None);
        let rendered = render(url_of(&c), &[("order", "../../admin/delete-all?confirm=yes#")]).unwrap();
        let sent = url::Url::parse(&rendered).unwrap();
        assert_eq!(
            sent.path(),
            "/orders/..%2F..%2Fadmin%2Fdelete-all%3Fconfirm%3Dyes%23/notify"
        );
        assert_eq!((sent.query(), sent.fragment()), (None, None));
        for (value, segment) in [
            ("a b+c%d/e\\f", "a%20b%2Bc%25d%2Fe%5Cf"),
            ("x\r\n\ty", "x%0D%0A%09y"),
            ("Müller~1.2_3-4", "M%C3%BCller~1.2_3-4"),
            ("%2e%2e", "%252e%252e"),
            ("...", "..."),
        ] {
            let rendered = render(url_of(&c), &[("order", value)]).unwrap();
            assert_eq!(
                url::Url::parse(&rendered).unwrap().path(),
                format!("/orders/{segment}/notify"),
                "{value:?}"
            );
        }
    }

    #[test]
    fn input_that_would_make_a_dot_or_empty_path_segment_is_refused() {
        // The URL parser removes `..` and `.` segments in any spelling, `%2E%2E` included, so
        // encoding the dots would not keep the path: such input is refused.
        assert_eq!(
            url::Url::parse("https://host.example/orders/%2E%2E/notify")
                .unwrap()
                .path(),
            "/notify"
        );
        let c = http("https://host.example/orders/{input.order}/notify", &[], None);
        for value in ["..", ".", ""] {
            let problem = render(url_of(&c), &[("order", value)]).unwrap_err();
            assert_eq!(
                problem,
                "order: in url: would make a path segment empty, \".\" or \"..\", which changes the path; give another value",
                "{value:?}"
            );
        }
        // With the admin's text or another input beside it, and at the end of the path.
        for (url, input) in [
            ("https://h.example/a/.{input.x}/b", vec![("x", ".")]),
            ("https://h.example/a/{input.x}{input.y}/b", vec![("x", "."), ("y", ".")]),
            ("https://h.example/a/%2{input.x}%2E/b", vec![("x", "e")]),
            ("https://h.example/a\\{input.x}?q=1", vec![("x", "..")]),
            ("https://h.example/a/{input.x}", vec![("x", "")]),
        ] {
            let c = http(url, &[], None);
            let problem = render(url_of(&c), &input).unwrap_err();
            assert!(
                problem.contains("x: in url: would make a path segment"),
                "{url}: {problem}"
            );
        }
        // Dots in a longer segment, or in the query, are only text.
        let c = http("https://h.example/a/{input.x}.json?from={input.y}", &[], None);
        let rendered = render(url_of(&c), &[("x", ".."), ("y", "..")]).unwrap();
        assert_eq!(rendered, "https://h.example/a/...json?from=..");
    }

    #[test]
    fn input_in_a_url_query_is_one_value() {
        let c = http(
            "https://h.example/orders?id={input.id}&source=sealbox#{input.id}",
            &[],
            None,
        );
        let rendered = render(url_of(&c), &[("id", "1?x=1&y=2#+ ")]).unwrap();
        let sent = url::Url::parse(&rendered).unwrap();
        let pairs: Vec<(String, String)> = sent.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            [
                ("id".to_owned(), "1?x=1&y=2#+ ".to_owned()),
                ("source".to_owned(), "sealbox".to_owned())
            ]
        );
    }

    #[test]
    fn input_in_a_header_cannot_add_lines() {
        let c = http("https://h.example/", &[("X-Order", "order {input.order}")], None);
        let field = field(&c, "headers.X-Order");
        assert_eq!(render(field, &[("order", "A-1 b/c:d")]).unwrap(), "order A-1 b/c:d");
        for value in ["1\r\nX-Evil: 1", "1\nX", "1\r", "a\0b", "a\tb", "a\u{7f}", "Müller"] {
            assert_eq!(
                render(field, &[("order", value)]).unwrap_err(),
                "order: in headers.X-Order: may hold only printable ASCII characters (no line breaks or control characters)",
                "{value:?}"
            );
        }
    }

    #[test]
    fn input_in_a_json_body_stays_one_string_or_one_scalar() {
        let body = "{{\"order\": \"{input.order}\", \"admin\": false, \"n\": {input.n}}}";
        for content_type in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/vnd.api+json",
        ] {
            let c = http("https://h.example/", &[("Content-Type", content_type)], Some(body));
            let evil = "\", \"admin\": true, \"x\": \"\\\n\u{1}";
            let rendered = render(body_of(&c), &[("order", evil), ("n", " 12.5 ")]).unwrap();
            let parsed: serde_json::Value = serde_json::from_str(&rendered).unwrap();
            assert_eq!(
                parsed,
                serde_json::json!({"order": evil, "admin": false, "n": 12.5}),
                "{content_type}"
            );
            for scalar in ["true", "null", "-1e3"] {
                let rendered = render(body_of(&c), &[("order", ""), ("n", scalar)]).unwrap();
                assert!(
                    serde_json::from_str::<serde_json::Value>(&rendered).is_ok(),
                    "{rendered}"
                );
            }
            for not_scalar in ["1, \"admin\": true", "\"x\"", "[1]", "{}", "", "1}"] {
                let problem = render(body_of(&c), &[("order", "1"), ("n", not_scalar)]).unwrap_err();
                assert!(
                    problem.starts_with("n: in body: stands for a JSON value (it is outside quotes"),
                    "{not_scalar}: {problem}"
                );
            }
        }
        // A backslash written right before the input would escape its first character.
        let c = http(
            "https://h.example/",
            &[("Content-Type", "application/json")],
            Some("{{\"a\": \"x\\{input.v}\", \"b\": \"\\\\{input.v}\"}}"),
        );
        let problem = render(body_of(&c), &[("v", "\"")]).unwrap_err();
        assert!(problem.starts_with("v: in body: follows a '\\'"), "{problem}");
        assert_eq!(problem.matches("v: in body").count(), 1, "{problem}");
    }

    #[test]
    fn input_in_a_form_body_is_one_value_and_other_bodies_take_it_as_given() {
        let body = Some("a={input.x}&b=2");
        let c = http(
            "https://h.example/",
            &[("content-type", "application/x-www-form-urlencoded")],
            body,
        );
        let rendered = render(body_of(&c), &[("x", "1&admin=true")]).unwrap();
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(rendered.as_bytes()).into_owned().collect();
        assert_eq!(
            pairs,
            [
                ("a".to_owned(), "1&admin=true".to_owned()),
                ("b".to_owned(), "2".to_owned())
            ]
        );
        for headers in [vec![("Content-Type", "text/plain")], vec![]] {
            let c = http("https://h.example/", &headers, body);
            assert_eq!(render(body_of(&c), &[("x", "1&\"")]).unwrap(), "a=1&\"&b=2");
        }
    }

    #[test]
    fn the_content_type_is_written_out_once() {
        let problems = |headers: &[(&str, &str)]| {
            compile(&ActionDefinition::Http(HttpActionSpec {
                method: "POST".into(),
                url: "https://h.example/".into(),
                headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                query: BTreeMap::new(),
                body: Some("{input.x}".into()),
            }))
            .unwrap_err()
            .message
        };
        let message = problems(&[("Content-Type", "{input.type}")]);
        assert!(
            message.contains("headers.Content-Type: decides how input is put into the body"),
            "{message}"
        );
        assert!(problems(&[("Content-Type", "{secrets.TYPE}")]).contains("holds no references"));
        let message = problems(&[("Content-Type", "application/json"), ("content-type", "text/plain")]);
        assert!(message.contains("headers: give Content-Type once"), "{message}");
    }

    fn email(to: &str, subject: &str, html: &str) -> Compiled {
        compile(&ActionDefinition::Email(EmailActionSpec {
            secret: "MAIL".into(),
            from: Some("Shop <shop@example.com>".into()),
            to: vec![to.into()],
            cc: vec![],
            bcc: vec![],
            subject: subject.into(),
            text: "order {input.order}\n".into(),
            html: Some(html.into()),
        }))
        .unwrap()
    }

    #[test]
    fn input_in_an_email_adds_no_recipient_header_or_markup() {
        let c = email("{input.to}", "Order {input.order} shipped", "<p>{input.order}</p>");
        let [to, subject, text, html] = ["to[0]", "subject", "text", "html"].map(|name| field(&c, name));
        assert_eq!(render(to, &[("to", "ann@example.com")]).unwrap(), "ann@example.com");
        for value in [
            "ann@example.com, eve@example.com",
            "ann@example.com;eve@example.com",
            "Eve <eve@example.com>",
            "ann@example.com\r\nBcc: eve@example.com",
            "\"a,b\"@example.com",
            "g: eve@example.com;",
        ] {
            let problem = render(to, &[("to", value)]).unwrap_err();
            assert!(
                problem.starts_with("to: in to[0]: may not hold , ;"),
                "{value}: {problem}"
            );
        }
        let named = email("{input.name} <orders@example.com>", "s", "h");
        let to = field(&named, "to[0]");
        assert_eq!(
            render(to, &[("name", "Ann Smith")]).unwrap(),
            "Ann Smith <orders@example.com>"
        );
        assert!(render(to, &[("name", "x <eve@example.com>,")]).is_err());

        assert_eq!(
            render(subject, &[("order", "Müller 7")]).unwrap(),
            "Order Müller 7 shipped"
        );
        assert_eq!(
            render(subject, &[("order", "1\r\nBcc: eve@example.com")]).unwrap_err(),
            "order: in subject: may not hold line breaks or control characters"
        );
        assert_eq!(
            render(html, &[("order", "<a href=\"x\">'&'</a>")]).unwrap(),
            "<p>&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;</p>"
        );
        assert_eq!(render(text, &[("order", "<b>\r\n")]).unwrap(), "order <b>\r\n\n");
    }

    #[test]
    fn an_sqs_body_written_as_json_takes_input_as_json() {
        let sqs = |body: &str| {
            compile(&ActionDefinition::Sqs(SqsActionSpec {
                secret: "Q".into(),
                body: body.into(),
                attributes: BTreeMap::from([("order".to_string(), "{input.order}".to_string())]),
                delay_seconds: None,
                message_group_id: None,
                message_deduplication_id: None,
            }))
            .unwrap()
        };
        let evil = "1\", \"admin\": true, \"x\": \"";
        let c = sqs(" {{\"order\": \"{input.order}\"}}");
        let rendered = render(body_of(&c), &[("order", evil)]).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&rendered).unwrap(),
            serde_json::json!({"order": evil})
        );
        let c = sqs("[{input.order}]");
        assert!(render(body_of(&c), &[("order", "1, 2")]).is_err());
        let c = sqs("{input.order} {{x}}");
        assert_eq!(
            render(body_of(&c), &[("order", evil)]).unwrap(),
            format!("{evil} {{x}}")
        );
        let c = sqs("order {input.order}");
        assert_eq!(
            render(body_of(&c), &[("order", evil)]).unwrap(),
            format!("order {evil}")
        );
        assert_eq!(render(field(&c, "attributes.order"), &[("order", evil)]).unwrap(), evil);
    }
}
