//! Bad input gets a 4xx in the error shape, never a 5xx, and changes nothing.

use reqwest::Method;
use serde_json::json;

use crate::{Api, setup};

async fn raw(
    api: &Api,
    token: &str,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> crate::Reply {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", api.url))
        .bearer_auth(token)
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    Api::reply(req.send().await.unwrap()).await
}

#[tokio::test]
async fn malformed_bodies_are_refused_in_the_error_shape_and_nothing_is_written() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    let json_ct = Some("application/json");
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "truncated JSON",
            json_ct,
            br#"{"name": "A", "type":"#.to_vec(),
            400,
            "request.invalid",
        ),
        ("not an object", json_ct, b"[1,2]".to_vec(), 400, "request.invalid"),
        (
            "an array shaped like the struct",
            json_ct,
            br#"["A", "text", "v"]"#.to_vec(),
            400,
            "request.invalid",
        ),
        (
            "wrong type for name",
            json_ct,
            br#"{"name": 5, "type": "text", "value": "v"}"#.to_vec(),
            400,
            "request.invalid",
        ),
        (
            "unknown type",
            json_ct,
            br#"{"name": "A", "type": "blob", "value": "v"}"#.to_vec(),
            400,
            "request.invalid",
        ),
        (
            "unknown field",
            json_ct,
            br#"{"name": "A", "type": "text", "value": "v", "colour": 1}"#.to_vec(),
            400,
            "request.invalid",
        ),
        (
            "missing field",
            json_ct,
            br#"{"name": "A", "type": "text"}"#.to_vec(),
            400,
            "request.invalid",
        ),
        (
            "invalid UTF-8",
            json_ct,
            b"{\"name\": \"A\xff\xfe\", \"type\": \"text\", \"value\": \"v\"}".to_vec(),
            400,
            "request.invalid",
        ),
        (
            "no content type",
            None,
            br#"{"name": "A", "type": "text", "value": "v"}"#.to_vec(),
            400,
            "request.invalid",
        ),
        ("empty body", json_ct, Vec::new(), 400, "request.invalid"),
        (
            "oversized body",
            json_ct,
            format!(
                r#"{{"name": "A", "type": "text", "value": "{}"}}"#,
                "x".repeat(300 * 1024)
            )
            .into_bytes(),
            413,
            "request.body_too_large",
        ),
    ];
    for (what, ct, body, status, code) in cases {
        let reply = raw(&api, owner, Method::POST, "/v1/secrets", ct, body).await;
        assert_eq!(reply.status.as_u16(), status, "{what}: {}", reply.body);
        reply.expect_error(status, code);
    }
    let unknown = raw(
        &api,
        owner,
        Method::POST,
        "/v1/secrets",
        json_ct,
        br#"{"name": "A", "type": "text", "value": "v", "colour": 1}"#.to_vec(),
    )
    .await;
    assert!(unknown.message().contains("colour"), "{}", unknown.message());
    // A wrongly typed field does not echo what was sent.
    let echo = raw(
        &api,
        owner,
        Method::PATCH,
        "/v1/secrets/A",
        json_ct,
        br#"{"expected_version": "hunter2-secret"}"#.to_vec(),
    )
    .await;
    echo.expect_error(400, "request.invalid");
    assert!(!echo.body.to_string().contains("hunter2-secret"));

    assert!(
        api.get("/v1/secrets", owner).await.expect(200)["secrets"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let events = api.audit(owner).await;
    assert_eq!(events.len(), 1, "only the bootstrap event: {events:?}");
}

#[tokio::test]
async fn path_tricks_in_names_are_refused() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    api.create_text(owner, "x", "v").await;
    for path in [
        "/v1/secrets/..%2Fx",
        "/v1/secrets/%2E%2E%2Fx",
        "/v1/secrets/%2F",
        "/v1/secrets/a%00b",
        "/v1/secrets/x%20",
    ] {
        api.get(path, owner).await.expect_error(400, "secret.name_invalid");
        api.post(&format!("{path}/reveal"), owner, json!({}))
            .await
            .expect_error(400, "secret.name_invalid");
    }
    let too_long = format!("/v1/secrets/{}", "A".repeat(5000));
    api.get(&too_long, owner).await.expect_error(400, "secret.name_invalid");
    api.get("/v1/secrets/%FF", owner)
        .await
        .expect_error(400, "request.invalid");
    api.get("/v1/secrets/x/nope", owner)
        .await
        .expect_error(404, "request.not_found");
    api.get("/v1/nothing-here", owner)
        .await
        .expect_error(404, "request.not_found");
    api.send(Method::PUT, "/v1/secrets/x", Some(owner), Some(json!({})))
        .await
        .expect_error(405, "request.method_not_allowed");
    api.get("/v1/secrets?colour=red", owner)
        .await
        .expect_error(400, "request.invalid");
    api.get("/v1/audit?since=yesterday", owner)
        .await
        .expect_error(400, "audit.query_invalid");
    api.get("/v1/audit?limit=0", owner)
        .await
        .expect_error(400, "audit.query_invalid");
    api.get("/v1/audit?limit=-1", owner)
        .await
        .expect_error(400, "request.invalid");
    let beyond = api.get("/v1/audit?after=9223372036854775808", owner).await.expect(200);
    assert!(
        beyond["events"].as_array().unwrap().is_empty(),
        "a huge `after` does not wrap around"
    );
    assert_eq!(api.reveal(owner, "x").await.expect(200)["value"], "v");
}

#[tokio::test]
async fn health_and_openapi_need_no_token() {
    let (_server, api) = setup().await;
    let health = api.send(Method::GET, "/v1/sys/health", None, None).await.expect(200);
    assert_eq!(health["status"], "ok");
    let doc = api.send(Method::GET, "/v1/openapi.json", None, None).await.expect(200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/secrets",
        "/v1/secrets/{name}/reveal",
        "/v1/trash/{name}/restore",
        "/v1/members",
        "/v1/tokens",
        "/v1/audit/verify",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"].get("CreateSecretRequest").is_some());
    // Every schema the document refers to is in it (a query parameter's enum, e.g. AuditOrder).
    let text = doc.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{name} is referred to but not in the document"
        );
    }
}
