//! `GET /v1/sys/metrics` after real traffic, read by a real Prometheus text parser (Python's
//! `prometheus_client`, both its Prometheus and its strict OpenMetrics parser): the counters
//! move as the traffic says, and no secret name, value, token or e-mail appears anywhere in it.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::Method;
use sealbox_testkit::{Options, TestServer, postgres_url};
use serde_json::{Value, json};

use crate::{Api, setup};

/// One sample: its name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The Python that has `prometheus_client` (`SEALBOX_TEST_PROMETHEUS_PYTHON`, set by
/// scripts/test); `None` skips, or fails under `CI=true`.
fn prometheus_python() -> Option<String> {
    let python = std::env::var("SEALBOX_TEST_PROMETHEUS_PYTHON").ok();
    let usable = python.as_ref().is_some_and(|p| {
        Command::new(p)
            .args(["-c", "import prometheus_client"])
            .status()
            .is_ok_and(|s| s.success())
    });
    if usable {
        return python;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but SEALBOX_TEST_PROMETHEUS_PYTHON does not name a python with prometheus_client"
    );
    eprintln!("prometheus_client is not installed; skipping the metrics parser test (scripts/test installs it)");
    None
}

const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
text = sys.stdin.read()
list(openmetrics(text))  # strict OpenMetrics grammar: raises on any malformed line
out = [{"name": s.name, "labels": s.labels, "value": s.value}
       for family in text_string_to_metric_families(text) for s in family.samples]
print(json.dumps(out))
"#;

/// Every sample of `text`, as the Python parsers read it (they fail the test on bad syntax).
fn parse(python: &str, text: &str) -> Vec<Sample> {
    let mut child = Command::new(python)
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the parser refused the metrics: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    let samples: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    samples
        .into_iter()
        .map(|s| Sample {
            name: s["name"].as_str().unwrap().to_owned(),
            labels: serde_json::from_value(s["labels"].clone()).unwrap(),
            value: s["value"].as_f64().unwrap(),
        })
        .collect()
}

/// The value of the sample `name` whose labels include `labels`; 0 when there is none.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

async fn get_text(url: &str, token: Option<&str>) -> (u16, String, String) {
    let mut request = reqwest::Client::new().get(format!("{url}/v1/sys/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

/// Drives every kind of traffic the metrics count and checks what they say, on `server`.
async fn check(server: &TestServer, python: &str) {
    let api = Api::new(server);
    let owner = &server.owner_token;
    let secret_name = "METRICS_CANARY_NAME";
    let secret_value = "metrics-canary-value-5f1c";
    let missing_name = "METRICS_MISSING_CANARY";
    let member_email = "metrics-canary@example.com";
    let member_password = "metrics canary password";

    api.create_text(owner, secret_name, secret_value).await;
    api.reveal(owner, secret_name).await.expect(200);
    api.get(&format!("/v1/secrets/{missing_name}"), owner)
        .await
        .expect_error(404, "secret.not_found");
    api.post("/v1/identities", owner, json!({"name": "metrics-bot"}))
        .await
        .expect(201);
    api.post(
        "/v1/members",
        owner,
        json!({"email": member_email, "role": "editor", "password": member_password}),
    )
    .await
    .expect(201);
    let session = api.login(member_email, member_password).await;
    // Wrong passwords until the per-e-mail limit (5 a window) refuses one.
    let mut refused = false;
    for _ in 0..6 {
        let reply = api
            .send(
                Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"email": member_email, "password": "wrong"})),
            )
            .await;
        refused |= reply.status == 429;
    }
    assert!(refused, "the sign-in limit never refused an attempt");
    // An action run refused before anything is sent (loopback is not allowed here).
    api.post(
        "/v1/actions/run",
        owner,
        json!({"definition": {"kind": "http", "method": "POST", "url": "http://127.0.0.1:9/hook",
               "body": format!("{{secrets.{secret_name}}}")}}),
    )
    .await
    .expect(422);

    // Only owners and admins, with a token.
    let (status, _, _) = get_text(&server.url, None).await;
    assert_eq!(status, 401);
    let (status, _, _) = get_text(&server.url, Some(&session)).await;
    assert_eq!(status, 403, "an editor may not read the metrics");
    let (status, content_type, text) = get_text(&server.url, Some(owner)).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );

    for canary in [
        secret_name,
        secret_value,
        missing_name,
        member_email,
        member_password,
        &server.owner_email,
        owner,
        &session,
        "sbx_",
        "@",
    ] {
        assert!(!text.contains(canary), "{canary:?} appears in the metrics:\n{text}");
    }

    let samples = parse(python, &text);
    let requests = "sealbox_http_requests_total";
    assert!(
        value(
            &samples,
            requests,
            &[("route", "/v1/secrets/{name}"), ("status", "404"), ("method", "GET")]
        ) >= 1.0
    );
    assert!(
        value(
            &samples,
            requests,
            &[("route", "/v1/secrets/{name}/reveal"), ("status", "200")]
        ) >= 1.0
    );
    assert!(value(&samples, requests, &[("route", "/v1/auth/login"), ("status", "429")]) >= 1.0);
    assert!(
        samples
            .iter()
            .filter(|s| s.name == requests)
            .all(|s| !s.labels["route"].contains("METRICS")),
        "a path, not a route template, became a label"
    );
    assert!(
        value(
            &samples,
            "sealbox_http_request_duration_seconds_count",
            &[("route", "/v1/secrets")]
        ) >= 1.0
    );
    assert_eq!(value(&samples, "sealbox_logins_total", &[("outcome", "success")]), 1.0);
    assert_eq!(value(&samples, "sealbox_logins_total", &[("outcome", "failure")]), 5.0);
    assert_eq!(
        value(&samples, "sealbox_logins_total", &[("outcome", "rate_limited")]),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "sealbox_rate_limited_total",
            &[("limit", "login_email_from_client")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "sealbox_action_runs_total",
            &[("kind", "http"), ("outcome", "refused")]
        ),
        1.0
    );
    // Every audited change, reveal, sign-in and run wrote its event.
    assert!(value(&samples, "sealbox_audit_writes_total", &[("outcome", "ok")]) >= 10.0);
    assert_eq!(
        value(&samples, "sealbox_audit_writes_total", &[("outcome", "failed")]),
        0.0
    );
    assert!(value(&samples, "sealbox_audit_write_duration_seconds_count", &[]) >= 10.0);
    assert!(
        value(
            &samples,
            "sealbox_store_query_duration_seconds_count",
            &[("op", "read")]
        ) >= 1.0
    );
    assert!(
        value(
            &samples,
            "sealbox_store_query_duration_seconds_count",
            &[("op", "write")]
        ) >= 1.0
    );
    assert!(value(&samples, "sealbox_store_connections_max", &[]) >= 1.0);
    assert_eq!(value(&samples, "sealbox_secrets", &[("workspace", "default")]), 1.0);
    assert_eq!(value(&samples, "sealbox_identities", &[("workspace", "default")]), 1.0);

    // Another workspace's gauges are not shown to this one's owner, only on the operator's
    // listener (--metrics-listen), which needs no token.
    let other = api
        .post("/v1/workspaces", owner, json!({"name": "metrics-other"}))
        .await
        .expect(201);
    let other_token = other["token"].as_str().unwrap();
    let (_, _, text) = get_text(&server.url, Some(owner)).await;
    assert!(!text.contains("metrics-other"), "{text}");
    let (_, _, text) = get_text(&server.url, Some(other_token)).await;
    let samples = parse(python, &text);
    assert_eq!(
        value(&samples, "sealbox_secrets", &[("workspace", "metrics-other")]),
        0.0
    );
    assert!(!text.contains("workspace=\"default\""), "{text}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let operator_url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(sealbox_server::serve_metrics(listener, server.sealing.clone(), async {
        let _ = stopped.await;
    }));
    let (status, _, text) = get_text(&operator_url, None).await;
    assert_eq!(status, 200, "{text}");
    let samples = parse(python, &text);
    assert_eq!(value(&samples, "sealbox_secrets", &[("workspace", "default")]), 1.0);
    assert!(text.contains("workspace=\"metrics-other\""), "{text}");
    for canary in [secret_name, secret_value, member_email, owner.as_str(), other_token] {
        assert!(!text.contains(canary), "{canary:?} appears in the metrics");
    }
    // The operator's listener serves the metrics and nothing else.
    let other_route = reqwest::get(format!("{operator_url}/v1/secrets")).await.unwrap();
    assert_eq!(other_route.status().as_u16(), 404);
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}

#[tokio::test]
async fn metrics_count_the_traffic_and_never_name_a_secret_token_or_email() {
    let Some(python) = prometheus_python() else { return };
    let (server, _) = setup().await;
    check(&server, &python).await;
}

#[tokio::test]
async fn metrics_on_postgres_count_the_traffic_and_the_pool() {
    let Some(python) = prometheus_python() else { return };
    let Some(url) = postgres_url().await else { return };
    let server = TestServer::start_with(Options {
        database_url: Some(url),
        ..Options::default()
    })
    .await;
    check(&server, &python).await;
}
