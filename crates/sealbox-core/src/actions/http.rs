//! `http` actions: one request to a URL whose scheme and host are written out in the definition.
//! Each field holds at most one secret reference; the `Content-Type` decides how input is put
//! into the body.

use async_trait::async_trait;
use sealbox_actions::model::{HTTP_METHODS, SENDER_HEADERS};
use sealbox_crypto::ExposeSecret;
use sealbox_types::{ActionKind, HeaderPair, HttpActionSpec, HttpRunResult};

use super::definition::{Checker, Field, literal};
use super::dispatch::{DispatchError, Dispatcher, HttpRequest};
use super::input::{self, Placement};
use super::kind::{CheckedKind, RenderedKind, Reply, bare_host};
use super::redact::Redactor;
use super::render::Renderer;
use crate::error::CoreResult;
use crate::template::Segment;
use crate::validate;

#[derive(Debug)]
pub(super) struct HttpAction {
    method: Field,
    url: Field,
    headers: Vec<(String, Field)>,
    query: Vec<(String, Field)>,
    body: Option<Field>,
    /// The URL's host as the sender reads it; empty when the URL has a problem.
    host: String,
}

impl HttpAction {
    pub(super) fn check(h: &HttpActionSpec, c: &mut Checker) -> Self {
        let method = c.field("method", &h.method, true, Placement::Text);
        if literal(&method).is_some_and(|m| !HTTP_METHODS.contains(&m.as_str())) {
            c.problems
                .push(format!("method: must be one of {}", HTTP_METHODS.join(", ")));
        }
        let url = c.field("url", &h.url, true, Placement::Url);
        let host = match url_host(&url) {
            Ok(host) => host,
            Err(problem) => {
                c.problems.push(format!("url: {problem}"));
                String::new()
            }
        };
        c.entries("headers", h.headers.len());
        let headers = h
            .headers
            .iter()
            .map(|(name, value)| {
                if !is_header_name(name) {
                    c.problems.push(format!(
                        "headers: {} is not a header name (letters, digits and !#$%&'*+-.^_`|~)",
                        validate::quote_for_message(name)
                    ));
                } else if SENDER_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                    c.problems
                        .push(format!("headers.{name}: set by the server when it sends; leave it out"));
                }
                (
                    name.clone(),
                    c.field(&format!("headers.{name}"), value, true, Placement::Header),
                )
            })
            .collect::<Vec<_>>();
        c.entries("query", h.query.len());
        let query = h
            .query
            .iter()
            .map(|(key, value)| {
                if key.is_empty() || key.chars().any(char::is_control) || key.len() > 256 {
                    c.problems
                        .push("query: keys are 1-256 characters without control characters".into());
                }
                (
                    key.clone(),
                    c.field(&format!("query.{key}"), value, true, Placement::Text),
                )
            })
            .collect();
        let body_placement = input::body_placement(content_type(c, &headers).as_deref());
        let body = h.body.as_deref().map(|b| c.field("body", b, true, body_placement));
        HttpAction {
            method,
            url,
            headers,
            query,
            body,
            host,
        }
    }
}

impl CheckedKind for HttpAction {
    fn kind(&self) -> ActionKind {
        ActionKind::Http
    }

    fn fields(&self) -> Vec<&Field> {
        let mut out = vec![&self.method, &self.url];
        out.extend(self.headers.iter().chain(&self.query).map(|(_, f)| f));
        out.extend(&self.body);
        out
    }

    fn written_destination(&self) -> Option<String> {
        (!self.host.is_empty()).then(|| self.host.clone())
    }

    fn render(&self, r: &mut Renderer<'_>) -> CoreResult<Box<dyn RenderedKind>> {
        let rendered_method = r.field(&self.method);
        // EXPOSE: compared with the list of methods; never shown, since a reference could put a value here.
        let method = rendered_method.expose_secret().to_owned();
        if !HTTP_METHODS.contains(&method.as_str()) {
            r.problems.push(format!(
                "method: rendered to something other than {}",
                HTTP_METHODS.join(", ")
            ));
        }
        let request = HttpRequest {
            method,
            url: r.field(&self.url),
            headers: self.headers.iter().map(|(n, f)| (n.clone(), r.field(f))).collect(),
            query: self.query.iter().map(|(k, f)| (k.clone(), r.field(f))).collect(),
            body: r.optional(&self.body),
        };
        Ok(Box::new(RenderedHttp {
            request,
            host: self.host.clone(),
        }))
    }
}

struct RenderedHttp {
    request: HttpRequest,
    host: String,
}

#[async_trait]
impl RenderedKind for RenderedHttp {
    fn destination(&self) -> String {
        self.host.clone()
    }

    async fn check(&self, dispatcher: &dyn Dispatcher) -> Result<(), DispatchError> {
        dispatcher.check_http(&self.request).await
    }

    async fn send(self: Box<Self>, dispatcher: &dyn Dispatcher, redactor: &Redactor) -> Result<Reply, DispatchError> {
        let response = dispatcher.http(self.request).await?;
        Ok(Reply {
            http: Some(HttpRunResult {
                status: response.status,
                headers: response
                    .headers
                    .iter()
                    .map(|(name, value)| HeaderPair {
                        name: redactor.text(name),
                        value: redactor.text(value),
                    })
                    .collect(),
                body: String::from_utf8_lossy(&redactor.bytes(&response.body)).into_owned(),
            }),
            ..Reply::default()
        })
    }
}

/// The `Content-Type`, which decides how input is put into the body: given at most once, and
/// written out (a reference would let a value decide it).
fn content_type(c: &mut Checker, headers: &[(String, Field)]) -> Option<String> {
    let given: Vec<&Field> = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, field)| field)
        .collect();
    let [field] = given.as_slice() else {
        if given.len() > 1 {
            c.problems.push("headers: give Content-Type once".into());
        }
        return None;
    };
    let written = literal(field);
    if written.is_none() {
        c.problems.push(format!(
            "{}: decides how input is put into the body, so it holds no references; write it out",
            field.name
        ));
    }
    written
}

/// The URL's host, from its written-out start: scheme and host must not hold references, so no
/// secret ever goes into a DNS query and the destination is known when the action is defined.
fn url_host(url: &Field) -> Result<String, String> {
    let start = match url.segments.first() {
        Some(Segment::Text(t)) => t.as_str(),
        _ => "",
    };
    let (scheme, rest) = if let Some(rest) = start.strip_prefix("https://") {
        ("https", rest)
    } else if let Some(rest) = start.strip_prefix("http://") {
        ("http", rest)
    } else {
        return Err("must start with http:// or https://".into());
    };
    // Where the sender's URL parser ends the authority (`\` too, for http and https).
    let end = rest.find(['/', '?', '#', '\\']);
    if end.is_none() && url.segments.len() > 1 {
        return Err("the host must be written out; put references after it (in the path or query)".into());
    }
    let authority = &rest[..end.unwrap_or(rest.len())];
    if authority.contains('@') {
        return Err("credentials in the URL are not allowed; send them in a header".into());
    }
    let must_name = "must name a host and a valid port, like https://api.example.com/path";
    if authority.is_empty() || authority.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(must_name.into());
    }
    // The host as the sender will read it (percent-escapes decoded, numeric IPv4 forms and
    // IDNs normalised), so the audited destination is the one connected to.
    let parsed = url::Url::parse(&format!("{scheme}://{authority}/")).map_err(|_| must_name.to_owned())?;
    match parsed.host_str() {
        Some(host) if !host.is_empty() => Ok(bare_host(host)),
        _ => Err(must_name.into()),
    }
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

#[cfg(test)]
mod tests {
    use super::super::definition::compile;
    use super::super::definition::tests::{http, problems_of};

    #[test]
    fn urls_write_out_their_scheme_and_host() {
        for (url, problem) in [
            ("{secrets.URL}", "must start with http"),
            ("ftp://example.com/", "must start with http"),
            ("https://{input.host}/x", "host must be written out"),
            ("https:///x", "must name a host"),
            ("https://api.{input.zone}.example.com/x", "host must be written out"),
            ("https://user:pw@example.com/", "credentials in the URL"),
        ] {
            let message = problems_of(&http("GET", url, &[], None));
            assert!(message.contains(problem), "{url}: {message}");
        }
        for (url, host) in [
            ("https://API.example.com:8443/a?b", "api.example.com"),
            ("http://127.0.0.1:9/{input.x}", "127.0.0.1"),
            ("http://[::1]:80/", "::1"),
            ("https://example.com", "example.com"),
            // The host the request goes to, as the sender's URL parser reads it: `\` ends the
            // host, percent-escapes are decoded, numeric IPv4 forms normalised.
            ("https://evil.example\\.api.example.com/x", "evil.example"),
            ("https://evil.example\\{input.x}", "evil.example"),
            ("https://%65vil.example/", "evil.example"),
            ("http://2130706433/", "127.0.0.1"),
            ("http://0x7f.1/", "127.0.0.1"),
            ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
            ("https://API.example.com./", "api.example.com."),
        ] {
            let compiled = compile(&http("GET", url, &[], None)).unwrap();
            assert_eq!(compiled.written_destination().as_deref(), Some(host), "{url}");
        }
        assert!(problems_of(&http("GET", "https://example.com:99999/", &[], None)).contains("url:"));
    }
}
