//! `http` actions: one request, no redirects followed, a timeout over the whole exchange and a cap
//! on the response body enforced while it streams in.

use std::net::SocketAddr;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use secrecy::ExposeSecret;

use crate::error::{innermost, tls_cause};
use crate::model::{HTTP_METHODS, HttpCall, HttpReply, SENDER_HEADERS};
use crate::{ActionError, Outbound, guard};

/// A checked request, ready to send.
pub(crate) struct Prepared {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<Vec<u8>>,
}

pub(crate) fn parse_url(raw: &str, what: &str) -> Result<Url, ActionError> {
    let url = Url::parse(raw.trim()).map_err(|e| {
        ActionError::invalid(format!(
            "the {what} is not a valid URL ({e}); give an absolute http:// or https:// URL"
        ))
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(ActionError::invalid(format!(
            "the {what} must start with http:// or https://, not {}://",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ActionError::invalid(format!(
            "the {what} has no host; give an absolute URL"
        )));
    }
    Ok(url)
}

impl HttpCall {
    // EXPOSE (URL, query, header values, body): put into the request this sender sends to the
    // action's destination, which is what running an action means; errors never quote them.
    pub(crate) fn prepare(&self) -> Result<Prepared, ActionError> {
        let upper = self.method.trim().to_ascii_uppercase();
        let Some(method) = HTTP_METHODS.iter().find(|m| **m == upper) else {
            let shown = if upper.len() <= 16 && upper.chars().all(|c| c.is_ascii_alphabetic()) {
                format!(" {upper}")
            } else {
                String::new()
            };
            return Err(ActionError::invalid(format!(
                "the method{shown} is not supported; use one of {}",
                HTTP_METHODS.join(", ")
            )));
        };
        let method = Method::from_bytes(method.as_bytes()).map_err(|_| {
            ActionError::invalid("the method is not supported; use one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS")
        })?;

        let mut url = parse_url(self.url.expose_secret(), "URL")?;
        url.set_fragment(None);
        if !self.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in &self.query {
                pairs.append_pair(key, value.expose_secret());
            }
        }

        let mut headers = HeaderMap::new();
        for (i, (name, value)) in self.headers.iter().enumerate() {
            let header = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                ActionError::invalid(format!(
                    "header {} has an invalid name; use letters, digits and - only",
                    i + 1
                ))
            })?;
            if SENDER_HEADERS.contains(&header.as_str()) {
                return Err(ActionError::invalid(format!(
                    "the header {} is set by sealbox itself; remove it from the action",
                    header.as_str()
                )));
            }
            let value = HeaderValue::from_str(value.expose_secret()).map_err(|_| {
                ActionError::invalid(format!(
                    "the value of header {} is not valid (it may not contain line breaks or control characters)",
                    header.as_str()
                ))
            })?;
            headers.append(header, value);
        }

        Ok(Prepared {
            method,
            url,
            headers,
            body: self.body.as_ref().map(|body| body.expose_secret().as_bytes().to_vec()),
        })
    }
}

impl Outbound {
    /// Checks what [`Outbound::http`] checks before it connects (the request can be built, the
    /// destination is allowed) and sends nothing.
    pub async fn check_http(&self, call: &HttpCall) -> Result<(), ActionError> {
        let prepared = call.prepare()?;
        let host = prepared.url.host_str().unwrap_or_default().to_owned();
        let port = prepared.url.port_or_known_default().unwrap_or(80);
        self.check_destination(&host, port).await
    }

    /// Sends one HTTP request and returns the reply. See the crate's guard rules.
    pub async fn http(&self, call: HttpCall) -> Result<HttpReply, ActionError> {
        let prepared = call.prepare()?;
        self.exchange(prepared).await
    }

    /// The whole exchange under one timeout: resolution, connect, TLS, request, and the body.
    pub(crate) async fn exchange(&self, request: Prepared) -> Result<HttpReply, ActionError> {
        let host = request.url.host_str().unwrap_or_default().to_owned();
        let after = self.inner.config.timeout;
        match tokio::time::timeout(after, self.exchange_unbounded(&host, request)).await {
            Ok(result) => result,
            Err(_) => Err(ActionError::Timeout { host, after }),
        }
    }

    async fn exchange_unbounded(&self, host: &str, request: Prepared) -> Result<HttpReply, ActionError> {
        let config = &self.inner.config;
        let port = request.url.port_or_known_default().unwrap_or(80);
        let addrs: Vec<SocketAddr> = guard::resolve_checked(host, port, config.allow_private_destinations).await?;

        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(self.inner.https.clone())
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(config.timeout)
            .pool_max_idle_per_host(0)
            .user_agent(concat!("sealbox/", env!("CARGO_PKG_VERSION")));
        if let Some(domain) = request.url.domain() {
            // The connection goes to the addresses just checked, not to a second lookup.
            builder = builder.resolve_to_addrs(domain, &addrs);
        }
        let client = builder.build().map_err(|e| {
            ActionError::Config(format!(
                "the HTTP client could not be built: {}",
                innermost(&e.without_url())
            ))
        })?;

        let is_head = request.method == Method::HEAD;
        let mut outgoing = client.request(request.method, request.url).headers(request.headers);
        if let Some(body) = request.body {
            outgoing = outgoing.body(body);
        }
        let mut response = outgoing
            .send()
            .await
            .map_err(|e| map_reqwest(host, config.timeout, e))?;

        let status = response.status().as_u16();
        let mut headers = Vec::with_capacity(response.headers().len());
        for (name, value) in response.headers() {
            headers.push((
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ));
        }

        let limit = config.max_response_bytes;
        let too_large = || ActionError::ResponseTooLarge {
            host: host.to_owned(),
            limit,
        };
        if !is_head && response.content_length().is_some_and(|len| len > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| map_reqwest(host, config.timeout, e))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpReply { status, headers, body })
    }
}

/// Maps a reqwest failure to an action error; the URL (which may hold a query) is dropped first.
fn map_reqwest(host: &str, timeout: std::time::Duration, error: reqwest::Error) -> ActionError {
    let error = error.without_url();
    if error.is_timeout() {
        return ActionError::Timeout {
            host: host.to_owned(),
            after: timeout,
        };
    }
    if let Some(detail) = tls_cause(&error) {
        return ActionError::Tls {
            host: host.to_owned(),
            detail,
        };
    }
    let detail = innermost(&error);
    if error.is_builder() || error.is_request() && !error.is_connect() && detail.contains("invalid") {
        return ActionError::invalid(format!("the request could not be built: {detail}"));
    }
    ActionError::Connect {
        host: host.to_owned(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: &str, url: &str) -> HttpCall {
        HttpCall {
            method: method.into(),
            url: url.into(),
            headers: vec![],
            query: vec![],
            body: None,
        }
    }

    fn invalid(c: HttpCall) -> String {
        match c.prepare() {
            Err(e) => {
                assert_eq!(e.code(), "action.request_invalid");
                e.to_string()
            }
            Ok(_) => panic!("expected an invalid request"),
        }
    }

    #[test]
    fn methods_are_checked_and_normalised() {
        let p = call("post", "https://example.com/").prepare().unwrap();
        assert_eq!(p.method, Method::POST);
        assert_eq!(
            invalid(call("TRACE", "https://example.com/")),
            "the method TRACE is not supported; use one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
        );
        let msg = invalid(call("GET s3cr3t-value", "https://example.com/"));
        assert!(!msg.contains("s3cr3t"), "{msg}");
    }

    #[test]
    fn urls_must_be_absolute_http() {
        assert!(invalid(call("GET", "ftp://example.com/")).contains("must start with http:// or https://"));
        assert!(invalid(call("GET", "/relative?token=s3cr3t")).contains("not a valid URL"));
        assert!(!invalid(call("GET", "/relative?token=s3cr3t")).contains("s3cr3t"));
        assert!(invalid(call("GET", "file:///etc/passwd")).contains("must start with"));
    }

    #[test]
    fn the_query_is_appended_and_encoded() {
        let mut c = call("GET", "https://example.com/p?a=1#frag");
        c.query = vec![("b".into(), "x y&z".into()), ("c".into(), "ü".into())];
        let p = c.prepare().unwrap();
        assert_eq!(p.url.as_str(), "https://example.com/p?a=1&b=x+y%26z&c=%C3%BC");
    }

    #[test]
    fn headers_are_checked_without_showing_values() {
        let mut c = call("GET", "https://example.com/");
        c.headers = vec![("X-Token".into(), "s3cr3t\r\nInjected: 1".into())];
        let msg = invalid(c);
        assert_eq!(
            msg,
            "the value of header x-token is not valid (it may not contain line breaks or control characters)"
        );
        let mut c = call("GET", "https://example.com/");
        c.headers = vec![("Bad Name".into(), "v".into())];
        assert_eq!(
            invalid(c),
            "header 1 has an invalid name; use letters, digits and - only"
        );
        let mut c = call("GET", "https://example.com/");
        c.headers = vec![("Host".into(), "internal".into())];
        assert_eq!(
            invalid(c),
            "the header host is set by sealbox itself; remove it from the action"
        );
    }
}
