//! `Outbound::http` against a real local HTTP(S) server that records what it received.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use futures_util::stream;
use sealbox_actions::{HttpCall, OutboundConfig};
use sealbox_test_peers::{Pki, ServerCert};

use crate::support::{outbound, outbound_with};

#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<Received>>>);

impl Seen {
    pub fn all(&self) -> Vec<Received> {
        self.0.lock().unwrap().clone()
    }
}

async fn record(State(seen): State<Seen>, request: Request) -> Received {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap().to_vec();
    let received = Received {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect(),
        body,
    };
    seen.0.lock().unwrap().push(received.clone());
    received
}

async fn echo(state: State<Seen>, request: Request) -> Response {
    let received = record(state, request).await;
    let mut body = b"echo:".to_vec();
    body.extend_from_slice(&received.body);
    let mut headers = HeaderMap::new();
    headers.insert("x-reply", "yes".parse().unwrap());
    headers.append("set-cookie", "a=1".parse().unwrap());
    headers.append("set-cookie", "b=2".parse().unwrap());
    (StatusCode::CREATED, headers, body).into_response()
}

async fn redirect(state: State<Seen>, request: Request) -> Response {
    record(state, request).await;
    (StatusCode::FOUND, [(header::LOCATION, "/echo")], "moved").into_response()
}

/// `n` bytes in chunks of 100, streamed without a content-length.
fn streamed(n: usize) -> Response {
    let chunks: Vec<Result<Bytes, Infallible>> = (0..n.div_ceil(100))
        .map(|i| Ok(Bytes::from(vec![b'x'; (n - i * 100).min(100)])))
        .collect();
    Response::new(Body::from_stream(stream::iter(chunks)))
}

fn app(seen: Seen) -> Router {
    Router::new()
        .route("/echo", any(echo))
        .route("/redirect", any(redirect))
        .route("/stream/1000", any(|| async { streamed(1000) }))
        .route("/stream/1001", any(|| async { streamed(1001) }))
        .route(
            "/declared",
            any(|| async { ([(header::CONTENT_LENGTH, "5000")], vec![b'y'; 5000]).into_response() }),
        )
        .route(
            "/slow",
            any(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "late"
            }),
        )
        .route(
            "/slow-body",
            any(|| async {
                // Headers and a first chunk at once, then nothing.
                let first = stream::once(async { Ok::<_, Infallible>(Bytes::from_static(b"start")) });
                let never = stream::once(async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    Ok::<_, Infallible>(Bytes::from_static(b"end"))
                });
                Response::new(Body::from_stream(futures_util::StreamExt::chain(first, never)))
            }),
        )
        .with_state(seen)
}

/// Starts the recording server on 127.0.0.1:0.
pub async fn start() -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(seen.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (addr, seen)
}

/// Starts the recording server over TLS with the given certificate.
async fn start_tls(cert: &ServerCert) -> (SocketAddr, Seen) {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let seen = Seen::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(seen.clone());
    let tls = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config));
    tokio::spawn(async move {
        axum_server::from_tcp_rustls(listener, tls)
            .serve(router.into_make_service())
            .await
    });
    (addr, seen)
}

fn get(url: String) -> HttpCall {
    HttpCall {
        method: "GET".into(),
        url: url.into(),
        headers: vec![],
        query: vec![],
        body: None,
    }
}

#[tokio::test]
async fn a_call_arrives_with_method_path_query_headers_and_body() {
    let (addr, seen) = start().await;
    let call = HttpCall {
        method: "post".into(),
        url: format!("http://localhost:{}/echo?fixed=1", addr.port()).into(),
        headers: vec![
            ("Authorization".into(), "Bearer tok-123".into()),
            ("Content-Type".into(), "application/json".into()),
            ("X-Multi".into(), "one".into()),
            ("X-Multi".into(), "two".into()),
        ],
        query: vec![("api_key".into(), "k&y=1".into()), ("q".into(), "a b".into())],
        body: Some(r#"{"hello":"world"}"#.into()),
    };
    let reply = outbound(true).http(call).await.unwrap();
    assert_eq!(reply.status, 201);
    assert_eq!(reply.body, br#"echo:{"hello":"world"}"#);
    assert!(
        reply.headers.contains(&("x-reply".into(), "yes".into())),
        "{:?}",
        reply.headers
    );
    let cookies: Vec<&str> = reply
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);

    let got = seen.all();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/echo");
    assert_eq!(r.query.as_deref(), Some("fixed=1&api_key=k%26y%3D1&q=a+b"));
    assert_eq!(r.header("authorization"), Some("Bearer tok-123"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let multi: Vec<&str> = r
        .headers
        .iter()
        .filter(|(n, _)| n == "x-multi")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(multi, ["one", "two"]);
    assert_eq!(r.header("host"), Some(format!("localhost:{}", addr.port()).as_str()));
    assert!(r.header("user-agent").is_some_and(|ua| ua.starts_with("sealbox/")));
    assert_eq!(r.body, br#"{"hello":"world"}"#);
}

#[tokio::test]
async fn every_method_is_sent_as_given() {
    let (addr, seen) = start().await;
    let out = outbound(true);
    for method in ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] {
        let mut call = get(format!("http://127.0.0.1:{}/echo", addr.port()));
        call.method = method.into();
        let reply = out.http(call).await.unwrap();
        assert_eq!(reply.status, 201, "{method}");
        if method == "HEAD" {
            assert!(reply.body.is_empty());
        }
    }
    let methods: Vec<String> = seen.all().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]);
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let (addr, seen) = start().await;
    let reply = outbound(true)
        .http(get(format!("http://127.0.0.1:{}/redirect", addr.port())))
        .await
        .unwrap();
    assert_eq!(reply.status, 302);
    assert!(reply.headers.contains(&("location".into(), "/echo".into())));
    assert_eq!(reply.body, b"moved");
    let paths: Vec<String> = seen.all().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/redirect"], "the redirect target was not requested");
}

#[tokio::test]
async fn the_response_cap_is_enforced_while_streaming() {
    let (addr, _) = start().await;
    let out = outbound_with(OutboundConfig {
        allow_private_destinations: true,
        max_response_bytes: 1000,
        ..OutboundConfig::default()
    });
    let reply = out
        .http(get(format!("http://127.0.0.1:{}/stream/1000", addr.port())))
        .await
        .unwrap();
    assert_eq!(reply.body.len(), 1000);

    let err = out
        .http(get(format!("http://127.0.0.1:{}/stream/1001", addr.port())))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), "action.response_too_large");
    assert_eq!(
        err.to_string(),
        "the response from 127.0.0.1 is larger than 1000 bytes; raise --action-max-response-bytes to accept it"
    );
    let err = out
        .http(get(format!("http://127.0.0.1:{}/declared", addr.port())))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), "action.response_too_large");
}

#[tokio::test]
async fn the_timeout_covers_waiting_for_headers_and_for_the_body() {
    let (addr, _) = start().await;
    let out = outbound_with(OutboundConfig {
        allow_private_destinations: true,
        timeout: Duration::from_secs(1),
        ..OutboundConfig::default()
    });
    for path in ["/slow", "/slow-body"] {
        let started = Instant::now();
        let err = out
            .http(get(format!("http://127.0.0.1:{}{path}", addr.port())))
            .await
            .err()
            .unwrap();
        assert_eq!(err.code(), "action.timeout", "{path}: {err}");
        assert_eq!(
            err.to_string(),
            "127.0.0.1 did not answer within 1 s; check the destination or raise --action-timeout-secs"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path} took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn a_refused_connection_is_reported_without_the_query_or_headers() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let call = HttpCall {
        method: "POST".into(),
        url: format!("http://127.0.0.1:{port}/p?token=s3cr3t-in-url").into(),
        headers: vec![("X-Api-Key".into(), "s3cr3t-in-header".into())],
        query: vec![("key".into(), "s3cr3t-in-query".into())],
        body: Some("s3cr3t-in-body".into()),
    };
    let err = outbound(true).http(call).await.err().unwrap();
    assert_eq!(err.code(), "action.connect_failed", "{err}");
    let shown = format!("{err} {err:?}");
    assert!(shown.starts_with("could not connect to 127.0.0.1: "), "{shown}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
}

#[tokio::test]
async fn https_with_a_private_ca_given_as_extra_ca() {
    let pki = Pki::new();
    let (addr, seen) = start_tls(&pki.server(&["localhost"])).await;
    let url = format!("https://localhost:{}/echo", addr.port());

    let trusting = outbound_with(OutboundConfig {
        allow_private_destinations: true,
        extra_ca_pem: Some(pki.ca_pem.clone().into_bytes()),
        ..OutboundConfig::default()
    });
    let reply = trusting.http(get(url.clone())).await.unwrap();
    assert_eq!(reply.status, 201);
    assert_eq!(seen.all().len(), 1);

    // Without the CA the certificate is not trusted, and nothing reaches the server.
    let err = outbound(true).http(get(url)).await.err().unwrap();
    assert_eq!(err.code(), "action.tls_failed", "{err}");
    assert!(err.to_string().contains("unknown issuer"), "{err}");
    assert_eq!(seen.all().len(), 1);
}

#[tokio::test]
async fn https_refuses_a_certificate_for_another_host_name() {
    let pki = Pki::new();
    let (addr, seen) = start_tls(&pki.server(&["other.test"])).await;
    let out = outbound_with(OutboundConfig {
        allow_private_destinations: true,
        extra_ca_pem: Some(pki.ca_pem.clone().into_bytes()),
        ..OutboundConfig::default()
    });
    let err = out
        .http(get(format!("https://localhost:{}/echo?k=s3cr3t", addr.port())))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), "action.tls_failed");
    assert_eq!(
        err.to_string(),
        "TLS with localhost failed: the certificate is not valid for this host name; check the server's certificate or trust its CA with --extra-ca-file"
    );
    assert!(seen.all().is_empty());
}

#[test]
fn a_bad_extra_ca_file_is_a_config_error() {
    for pem in [
        &b"not a pem"[..],
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ] {
        let err = sealbox_actions::Outbound::new(OutboundConfig {
            extra_ca_pem: Some(pem.to_vec()),
            ..OutboundConfig::default()
        })
        .err()
        .unwrap();
        assert_eq!(err.code(), "action.config_invalid", "{err}");
        assert!(err.to_string().contains("extra CA file"), "{err}");
    }
}

#[tokio::test]
async fn https_to_an_ip_address_checks_the_ip_in_the_certificate() {
    let pki = Pki::new();
    let trusting = outbound_with(OutboundConfig {
        allow_private_destinations: true,
        extra_ca_pem: Some(pki.ca_pem.clone().into_bytes()),
        ..OutboundConfig::default()
    });
    let (addr, seen) = start_tls(&pki.server(&["127.0.0.1"])).await;
    let reply = trusting
        .http(get(format!("https://127.0.0.1:{}/echo", addr.port())))
        .await
        .unwrap();
    assert_eq!(reply.status, 201);
    assert_eq!(seen.all().len(), 1);

    // A certificate for a name only does not cover the bare address.
    let (addr, seen) = start_tls(&pki.server(&["localhost"])).await;
    let err = trusting
        .http(get(format!("https://127.0.0.1:{}/echo", addr.port())))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), "action.tls_failed", "{err}");
    assert!(seen.all().is_empty());
}
