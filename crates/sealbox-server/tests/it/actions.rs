//! Actions end to end: the real server and its real senders against peers on 127.0.0.1.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method as HttpMethod, Uri};
use base64::Engine;
use sealbox_testkit::{Options, TestServer};
use serde_json::{Value, json};

use crate::{Api, logs};

/// One request the echo peer received.
#[derive(Clone, Debug)]
struct Received {
    method: String,
    path_and_query: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// A local HTTP peer on 127.0.0.1:0 that records every request and answers with what it got:
/// the `authorization` header in `x-echo`, and a body holding the request's body, the header in
/// its raw, base64 and URL-encoded forms, and the query string.
struct EchoPeer {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl EchoPeer {
    async fn start() -> EchoPeer {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = received.clone();
        let app = axum::Router::new().fallback(move |method: HttpMethod, uri: Uri, headers: HeaderMap, body: Bytes| {
            let log = log.clone();
            async move {
                let headers: Vec<(String, String)> = headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let auth = headers
                    .iter()
                    .find(|(k, _)| k == "authorization")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let body = String::from_utf8_lossy(&body).into_owned();
                log.lock().unwrap().push(Received {
                    method: method.to_string(),
                    path_and_query: uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
                    headers,
                    body: body.clone(),
                });
                let token = auth.strip_prefix("Bearer ").unwrap_or(&auth).to_owned();
                let echo = json!({
                    "got_body": body,
                    "got_auth": auth,
                    "auth_base64": base64::engine::general_purpose::STANDARD.encode(&token),
                    "auth_urlencoded": url_encode(&token),
                    "query": uri.query().unwrap_or_default(),
                });
                (
                    axum::http::StatusCode::CREATED,
                    [
                        ("x-echo", auth.clone()),
                        ("content-type", "application/json".to_owned()),
                    ],
                    echo.to_string(),
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        EchoPeer { url, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn url_encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn start(allow_private_destinations: bool) -> (TestServer, Api) {
    logs::capture();
    let server = TestServer::start_with(Options {
        allow_private_destinations,
        ..Options::default()
    })
    .await;
    let api = Api::new(&server);
    (server, api)
}

async fn secret(api: &Api, owner: &str, name: &str, value: &str, tags: Value, visibility: &str) {
    api.post(
        "/v1/secrets",
        owner,
        json!({"name": name, "type": "text", "value": value, "tags": tags, "visibility": visibility}),
    )
    .await
    .expect(201);
}

/// An identity `name` with `tags` and a token for it.
async fn identity(api: &Api, owner: &str, name: &str, tags: Value) -> String {
    api.post("/v1/identities", owner, json!({"name": name, "tags": tags}))
        .await
        .expect(201);
    let created = api
        .post(&format!("/v1/identities/{name}/tokens"), owner, json!({"name": "t"}))
        .await
        .expect(201);
    created["token"].as_str().unwrap().to_owned()
}

/// Every byte of the SQLite database files.
fn database_bytes(server: &TestServer) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(server.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("sealbox.db"))
        {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

const TOKEN: &str = "tok-Secret/+ 1234=";
const QUERY_KEY: &str = "qk secret&456";
const BODY_PW: &str = "body-pw-789";

fn hook(peer: &EchoPeer) -> Value {
    json!({
        "kind": "http",
        "method": "POST",
        "url": format!("{}/hook/{{input.order}}", peer.url),
        "headers": {"Authorization": "Bearer {secrets.API_TOKEN}", "Content-Type": "application/json"},
        "query": {"key": "{secrets.QUERY_KEY}", "plain": "yes"},
        "body": "{{\"pw\": \"{secrets.BODY_PW}\", \"order\": \"{input.order}\"}}",
    })
}

#[tokio::test]
async fn an_http_action_puts_each_secret_in_its_field_and_the_reply_comes_back_redacted() {
    let (server, api) = start(true).await;
    let owner = &server.owner_token;
    let peer = EchoPeer::start().await;
    // Restricted secrets are never shown to anyone, but actions may use them.
    secret(&api, owner, "API_TOKEN", TOKEN, json!({}), "restricted").await;
    secret(&api, owner, "QUERY_KEY", QUERY_KEY, json!({}), "masked").await;
    secret(&api, owner, "BODY_PW", BODY_PW, json!({}), "masked").await;

    let created = api
        .post(
            "/v1/actions",
            owner,
            json!({"name": "order-hook", "definition": hook(&peer)}),
        )
        .await
        .expect(201);
    assert_eq!(created["kind"], "http");
    assert_eq!(created["secrets"], json!(["API_TOKEN", "BODY_PW", "QUERY_KEY"]));
    assert_eq!(created["inputs"], json!(["order"]));
    assert_eq!(created["definition"], hook(&peer));

    let ran = api
        .post("/v1/actions/order-hook/run", owner, json!({"input": {"order": "42"}}))
        .await
        .expect(200);

    // What the destination received: each secret in its own field.
    let got = peer.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let got = &got[0];
    assert_eq!(got.method, "POST");
    assert!(got.path_and_query.starts_with("/hook/42?"), "{}", got.path_and_query);
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(got.path_and_query.split_once('?').unwrap().1).unwrap();
    assert!(query.contains(&("key".into(), QUERY_KEY.into())), "{query:?}");
    assert!(query.contains(&("plain".into(), "yes".into())), "{query:?}");
    let auth = got.headers.iter().find(|(k, _)| k == "authorization").unwrap();
    assert_eq!(auth.1, format!("Bearer {TOKEN}"));
    assert_eq!(
        serde_json::from_str::<Value>(&got.body).unwrap(),
        json!({"pw": BODY_PW, "order": "42"})
    );

    // What the caller got back: the reply, with every form of every value redacted.
    assert_eq!(ran["action"], "order-hook");
    assert_eq!(ran["destination"], "127.0.0.1");
    assert_eq!(ran["http"]["status"], 201);
    let echo_header = ran["http"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "x-echo")
        .unwrap();
    assert_eq!(echo_header["value"], "Bearer [REDACTED]");
    let body: Value = serde_json::from_str(ran["http"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["got_auth"], "Bearer [REDACTED]");
    assert_eq!(body["auth_base64"], "[REDACTED]");
    assert_eq!(body["auth_urlencoded"], "[REDACTED]");
    assert_eq!(body["got_body"], "{\"pw\": \"[REDACTED]\", \"order\": \"42\"}");
    assert!(
        body["query"].as_str().unwrap().contains("key=[REDACTED]"),
        "{}",
        body["query"]
    );
    let reply_text = ran.to_string();
    let b64 = base64::engine::general_purpose::STANDARD.encode(TOKEN);
    for leaked in [TOKEN, QUERY_KEY, BODY_PW, b64.as_str(), url_encode(TOKEN).as_str()] {
        assert!(!reply_text.contains(leaked), "{leaked} in {reply_text}");
    }

    // Input is text, never a template: a reference in it arrives as written.
    api.post(
        "/v1/actions/order-hook/run",
        owner,
        json!({"input": {"order": "{secrets.BODY_PW}"}}),
    )
    .await
    .expect(200);
    let injected = peer.received().pop().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&injected.body).unwrap()["order"],
        "{secrets.BODY_PW}"
    );

    // Used: last_used_at / last_used_by on each secret.
    for name in ["API_TOKEN", "QUERY_KEY", "BODY_PW"] {
        let details = api.get(&format!("/v1/secrets/{name}"), owner).await.expect(200);
        assert!(details["last_used_at"].is_string(), "{details}");
        assert_eq!(details["last_used_by"], format!("member:{}", server.owner_email));
    }

    // Audited: each secret's use and the run, with names and destination but never a value.
    let events = api.audit(owner).await;
    let run = events.iter().rfind(|e| e["action"] == "action.run").unwrap();
    assert_eq!(run["target"], "action:order-hook");
    assert_eq!(run["outcome"], "success");
    assert_eq!(run["detail"]["destination"], "127.0.0.1");
    assert_eq!(run["detail"]["secrets"], json!(["API_TOKEN", "BODY_PW", "QUERY_KEY"]));
    assert_eq!(run["detail"]["input_keys"], json!(["order"]));
    assert_eq!(run["detail"]["status"], 201);
    let uses: Vec<&Value> = events.iter().filter(|e| e["action"] == "secret.use").collect();
    assert_eq!(uses.len(), 2, "one event per run: {uses:?}");
    for used in &uses {
        assert_eq!(used["target"], "action:order-hook");
        assert_eq!(
            used["detail"]["secrets"],
            json!({"API_TOKEN": 1, "BODY_PW": 1, "QUERY_KEY": 1}),
            "each secret sent is named with its version"
        );
    }
    // Asking the audit log about one of the secrets finds both uses.
    let about = api
        .get("/v1/audit?target=secret:QUERY_KEY&action=secret.use", owner)
        .await
        .expect(200);
    assert_eq!(about["events"].as_array().unwrap().len(), 2, "{about}");
    assert!(events.iter().any(|e| e["action"] == "action.create"));
    let audit_text = Value::from(events).to_string();
    let db = database_bytes(&server);
    for value in [TOKEN, QUERY_KEY, BODY_PW, b64.as_str()] {
        assert!(!audit_text.contains(value), "{value} in the audit log");
        assert!(!contains(&db, value), "{value} in the database files");
    }
    logs::assert_clean(&[TOKEN, QUERY_KEY, BODY_PW]);
}

#[tokio::test]
async fn without_allow_private_destinations_loopback_private_and_metadata_are_refused() {
    let (server, api) = start(false).await;
    let owner = &server.owner_token;
    let peer = EchoPeer::start().await;
    secret(&api, owner, "API_TOKEN", TOKEN, json!({}), "masked").await;
    let port = peer.url.rsplit(':').next().unwrap().to_owned();
    api.post(
        "/v1/actions",
        owner,
        json!({"name": "to-loopback", "definition": {
        "kind": "http", "method": "GET", "url": format!("{}/x", peer.url),
        "headers": {"Authorization": "Bearer {secrets.API_TOKEN}"}}}),
    )
    .await
    .expect(201);
    let refused = api.post("/v1/actions/to-loopback/run", owner, json!({})).await;
    refused.expect_error(422, "action.destination_refused");
    assert!(refused.message().contains("127.0.0.1"), "{}", refused.message());
    assert!(
        refused.message().contains("--allow-private-destinations"),
        "{}",
        refused.message()
    );

    for url in [
        format!("http://localhost:{port}/x"),
        format!("http://[::1]:{port}/x"),
        "http://10.1.2.3/x".to_owned(),
        "http://192.168.1.1/x".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[fd00:ec2::254]/latest/meta-data/".to_owned(),
        "http://0.0.0.0/".to_owned(),
    ] {
        let reply = api
            .post(
                "/v1/actions/run",
                owner,
                json!({"definition": {
                "kind": "http", "method": "GET", "url": url,
                "headers": {"Authorization": "Bearer {secrets.API_TOKEN}"}}}),
            )
            .await;
        reply.expect_error(422, "action.destination_refused");
        assert!(!reply.message().contains(TOKEN));
    }
    assert!(
        peer.received().is_empty(),
        "nothing reaches the peer: {:?}",
        peer.received()
    );

    // Every refused run is audited as a failure with the guard's code.
    let events = api.audit(owner).await;
    let failures: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "action.run" && e["outcome"] == "failure")
        .collect();
    assert_eq!(failures.len(), 8);
    assert!(
        failures
            .iter()
            .all(|e| e["detail"]["code"] == "action.destination_refused")
    );
    assert_eq!(failures[1]["target"], "action:(unsaved)");
    assert_eq!(failures[1]["detail"]["destination"], "localhost");
    // Nothing was sent, so no value was used: no secret.use, no last_used_at.
    assert!(
        events.iter().all(|e| e["action"] != "secret.use"),
        "a refused destination records no use: {events:?}"
    );
    let details = api.get("/v1/secrets/API_TOKEN", owner).await.expect(200);
    assert!(details["last_used_at"].is_null(), "{details}");
}

#[tokio::test]
async fn definitions_are_checked_field_by_field() {
    let (server, api) = start(true).await;
    let owner = &server.owner_token;
    let two = api
        .post(
            "/v1/actions",
            owner,
            json!({"name": "two", "definition": {
            "kind": "http", "method": "POST", "url": "https://api.example.com/v1",
            "headers": {"Authorization": "Basic {secrets.USER}:{secrets.PASS}"}}}),
        )
        .await;
    two.expect_error(400, "action.definition_invalid");
    assert!(two.message().contains("headers.Authorization"), "{}", two.message());
    assert!(two.message().contains("at most one"), "{}", two.message());
    // The same refusal for an unsaved run, before anything is opened or sent.
    api.post(
        "/v1/actions/run",
        owner,
        json!({"definition": {
        "kind": "http", "method": "GET", "url": "https://api.example.com/?k={secrets.A}{secrets.B}"}}),
    )
    .await
    .expect_error(400, "action.definition_invalid");

    for (definition, needle) in [
        (
            json!({"kind": "http", "method": "GET", "url": "https://{secrets.HOST}/"}),
            "url:",
        ),
        (
            json!({"kind": "http", "method": "GRAB", "url": "https://example.com/"}),
            "method:",
        ),
        (
            json!({"kind": "email", "secret": "MAIL", "to": [], "subject": "s", "text": "t"}),
            "to:",
        ),
        (
            json!({"kind": "sqs", "secret": "Q", "body": "b", "delay_seconds": 901}),
            "delay_seconds",
        ),
    ] {
        let reply = api
            .post("/v1/actions", owner, json!({"name": "bad", "definition": definition}))
            .await;
        reply.expect_error(400, "action.definition_invalid");
        assert!(reply.message().contains(needle), "{needle}: {}", reply.message());
    }
    api.post(
        "/v1/actions",
        owner,
        json!({"name": "x", "definition": {"kind": "ftp"}}),
    )
    .await
    .expect_error(400, "request.invalid");
    // A misspelt field is refused, not ignored.
    api.post(
        "/v1/actions",
        owner,
        json!({"name": "x", "definition": {
        "kind": "http", "method": "GET", "url": "https://example.com/", "header": {"A": "b"}}}),
    )
    .await
    .expect_error(400, "request.invalid");
    api.post(
        "/v1/actions",
        owner,
        json!({"name": "run", "definition": {
        "kind": "http", "method": "GET", "url": "https://example.com/"}}),
    )
    .await
    .expect_error(400, "action.name_invalid");
    assert!(
        api.get("/v1/actions", owner).await.expect(200)["actions"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Missing and unknown input, a missing secret: refused before anything is sent.
    let peer = EchoPeer::start().await;
    api.post(
        "/v1/actions",
        owner,
        json!({"name": "needs-input", "definition": {
        "kind": "http", "method": "GET", "url": format!("{}/{{input.id}}", peer.url),
        "headers": {"X-Key": "{secrets.NOT_THERE}"}}}),
    )
    .await
    .expect(201);
    let r = api
        .post("/v1/actions/needs-input/run", owner, json!({"input": {"nope": "1"}}))
        .await;
    r.expect_error(422, "action.reference_invalid");
    secret(&api, owner, "NOT_THERE", "now-there", json!({}), "masked").await;
    let r = api
        .post("/v1/actions/needs-input/run", owner, json!({"input": {"nope": "1"}}))
        .await;
    r.expect_error(400, "action.input_invalid");
    assert!(
        r.message().contains("missing: id") && r.message().contains("\"nope\""),
        "{}",
        r.message()
    );
    assert!(peer.received().is_empty());
    // A request the sender cannot build (a header value with a line break, from a secret: where
    // a secret goes is the admin's choice; input with one is refused as input, see below).
    secret(&api, owner, "TWO_LINES", "a\r\nInjected: 1", json!({}), "masked").await;
    let r = api
        .post(
            "/v1/actions/run",
            owner,
            json!({"definition": {
            "kind": "http", "method": "GET", "url": format!("{}/x", peer.url),
            "headers": {"X-Key": "{secrets.NOT_THERE}", "X-Id": "{secrets.TWO_LINES}"}}}),
        )
        .await;
    r.expect_error(422, "action.request_invalid");
    assert!(peer.received().is_empty());
    // Every refused run is on record as a failure with its code, and none recorded a use.
    let events = api.audit(owner).await;
    let runs: Vec<(&Value, &Value)> = events
        .iter()
        .filter(|e| e["action"] == "action.run")
        .map(|e| (&e["outcome"], &e["detail"]["code"]))
        .collect();
    assert_eq!(
        runs,
        [
            (&json!("failure"), &json!("action.definition_invalid")),
            (&json!("failure"), &json!("action.reference_invalid")),
            (&json!("failure"), &json!("action.input_invalid")),
            (&json!("failure"), &json!("action.request_invalid")),
        ]
    );
    assert!(events.iter().all(|e| e["action"] != "secret.use"), "{events:?}");
    // A refused run records only the input keys the action takes (any text may be sent as a key).
    let refused_input = events
        .iter()
        .find(|e| e["action"] == "action.run" && e["detail"]["code"] == "action.input_invalid")
        .unwrap();
    assert_eq!(refused_input["detail"]["input_keys"], json!([]), "{refused_input}");
    api.post("/v1/actions/missing/run", owner, json!({}))
        .await
        .expect_error(404, "action.not_found");
}

/// Issue 9: an admin saves `POST .../orders/{input.order}/notify` with a bearer token; whoever
/// runs it must not be able to send that token to another path, add query parameters, add
/// header lines or add JSON keys.
#[tokio::test]
async fn input_cannot_rewrite_the_request_the_admin_defined_issue_9() {
    let (server, api) = start(true).await;
    let owner = &server.owner_token;
    let peer = EchoPeer::start().await;
    secret(&api, owner, "API_TOKEN", TOKEN, json!({}), "masked").await;
    api.post(
        "/v1/actions",
        owner,
        json!({"name": "notify", "definition": {
        "kind": "http", "method": "POST",
        "url": format!("{}/orders/{{input.order}}/notify?id={{input.id}}&source=sealbox", peer.url),
        "headers": {"Authorization": "Bearer {secrets.API_TOKEN}", "Content-Type": "application/json",
                    "X-Ref": "{input.reference}"},
        "query": {"tag": "{input.tag}"},
        "body": "{{\"note\": \"{input.note}\", \"admin\": false}}"}}),
    )
    .await
    .expect(201);
    let editor = api.member_token(owner, "ed@example.com", "editor").await;
    let input = |changes: Value| {
        let mut input = json!({"order": "1042", "id": "7", "tag": "t", "note": "n", "reference": "r-1"});
        for (k, v) in changes.as_object().unwrap() {
            input[k] = v.clone();
        }
        json!({ "input": input })
    };

    let note = "\", \"admin\": true, \"x\": \"";
    api.post(
        "/v1/actions/notify/run",
        &editor,
        input(
            json!({"order": "../../admin/delete-all?confirm=yes#", "id": "1?x=1&", "tag": "a&admin=true#",
                     "note": note}),
        ),
    )
    .await
    .expect(200);
    let got = peer.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let (path, query) = got[0].path_and_query.split_once('?').unwrap();
    assert_eq!(path, "/orders/..%2F..%2Fadmin%2Fdelete-all%3Fconfirm%3Dyes%23/notify");
    let query: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    assert_eq!(
        query,
        [
            ("id".to_owned(), "1?x=1&".to_owned()),
            ("source".to_owned(), "sealbox".to_owned()),
            ("tag".to_owned(), "a&admin=true#".to_owned()),
        ]
    );
    assert_eq!(
        serde_json::from_str::<Value>(&got[0].body).unwrap(),
        json!({"note": note, "admin": false})
    );
    let reference = got[0].headers.iter().find(|(k, _)| k == "x-ref").unwrap();
    assert_eq!(reference.1, "r-1");

    // What would leave the path the admin wrote, or add a header line, is refused and nothing is sent.
    for (changes, problem) in [
        (
            json!({"order": ".."}),
            "order: in url: would make a path segment empty, \".\" or \"..\"",
        ),
        (json!({"order": "."}), "order: in url: would make a path segment"),
        (json!({"order": ""}), "order: in url: would make a path segment"),
        (
            json!({"reference": "r-1\r\nX-Evil: 1"}),
            "reference: in headers.X-Ref: may hold only printable ASCII characters (no line breaks or control characters)",
        ),
    ] {
        let refused = api
            .post("/v1/actions/notify/run", &editor, input(changes.clone()))
            .await;
        refused.expect_error(400, "action.input_invalid");
        assert!(refused.message().contains(problem), "{changes}: {}", refused.message());
    }
    assert_eq!(peer.received().len(), 1, "{:?}", peer.received());
    assert!(
        peer.received().iter().all(|r| !r.path_and_query.contains("/admin/")),
        "{:?}",
        peer.received()
    );
    // On record as failures that used nothing.
    let events = api.audit(owner).await;
    let codes: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "action.run")
        .map(|e| &e["detail"]["code"])
        .collect();
    assert_eq!(codes.len(), 5, "{codes:?}");
    assert!(codes[1..].iter().all(|c| *c == "action.input_invalid"), "{codes:?}");
    assert_eq!(events.iter().filter(|e| e["action"] == "secret.use").count(), 1);
}

#[tokio::test]
async fn crud_update_and_delete() {
    let (server, api) = start(true).await;
    let owner = &server.owner_token;
    let def = |path: &str| json!({"kind": "http", "method": "GET", "url": format!("https://api.example.com/{path}")});
    api.post("/v1/actions", owner, json!({"name": "a", "definition": def("one")}))
        .await
        .expect(201);
    api.post("/v1/actions", owner, json!({"name": "a", "definition": def("two")}))
        .await
        .expect_error(409, "action.exists");
    let updated = api
        .patch("/v1/actions/a", owner, json!({"definition": def("{input.x}")}))
        .await
        .expect(200);
    assert_eq!(updated["inputs"], json!(["x"]));
    assert_eq!(
        api.get("/v1/actions/a", owner).await.expect(200)["definition"],
        def("{input.x}")
    );
    api.patch("/v1/actions/zzz", owner, json!({"definition": def("x")}))
        .await
        .expect_error(404, "action.not_found");
    api.delete("/v1/actions/a", owner).await.expect(204);
    api.get("/v1/actions/a", owner)
        .await
        .expect_error(404, "action.not_found");
    let actions: Vec<String> = api
        .audit(owner)
        .await
        .iter()
        .filter(|e| e["target"] == "action:a")
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["action.create", "action.update", "action.delete"]);
}

#[tokio::test]
async fn editors_run_but_do_not_define_and_identities_need_a_policy() {
    let (server, api) = start(true).await;
    let owner = &server.owner_token;
    let peer = EchoPeer::start().await;
    secret(&api, owner, "API_TOKEN", TOKEN, json!({"team": "pay"}), "masked").await;
    secret(&api, owner, "QUERY_KEY", QUERY_KEY, json!({"team": "pay"}), "masked").await;
    secret(&api, owner, "BODY_PW", BODY_PW, json!({"team": "pay"}), "restricted").await;
    api.post(
        "/v1/actions",
        owner,
        json!({"name": "order-hook", "definition": hook(&peer)}),
    )
    .await
    .expect(201);

    // Editors: may run, may not define, change or delete.
    let editor = api.member_token(owner, "ed@example.com", "editor").await;
    api.post("/v1/actions/order-hook/run", &editor, json!({"input": {"order": "1"}}))
        .await
        .expect(200);
    api.get("/v1/actions", &editor).await.expect(200);
    api.post(
        "/v1/actions",
        &editor,
        json!({"name": "mine", "definition": hook(&peer)}),
    )
    .await
    .expect_error(403, "permission.denied");
    api.patch("/v1/actions/order-hook", &editor, json!({"definition": hook(&peer)}))
        .await
        .expect_error(403, "permission.denied");
    api.delete("/v1/actions/order-hook", &editor)
        .await
        .expect_error(403, "permission.denied");
    // An unsaved definition chooses where values go: restricted secrets need an owner or admin.
    let unsaved = json!({"definition": hook(&peer), "input": {"order": "2"}});
    api.post("/v1/actions/run", &editor, unsaved.clone())
        .await
        .expect_error(403, "permission.denied");
    api.post("/v1/actions/run", owner, unsaved.clone()).await.expect(200);

    // Identities: refused without a policy; with `use` on every secret they may run the saved
    // action, yet their environment does not hold the values.
    let worker = identity(&api, owner, "worker", json!({"team": "pay"})).await;
    let denied = api
        .post("/v1/actions/order-hook/run", &worker, json!({"input": {"order": "3"}}))
        .await;
    denied.expect_error(403, "action.reference_invalid");
    assert!(denied.message().contains("API_TOKEN"), "{}", denied.message());
    api.get("/v1/actions", &worker)
        .await
        .expect_error(403, "permission.denied");
    let sent = peer.received().len();
    api.post(
        "/v1/policies",
        owner,
        json!({"name": "pay-use", "identities": ["worker"],
        "secret_tags": {"team": "pay"}, "allow": ["use"]}),
    )
    .await
    .expect(201);
    let ran = api
        .post("/v1/actions/order-hook/run", &worker, json!({"input": {"order": "4"}}))
        .await
        .expect(200);
    assert_eq!(ran["http"]["status"], 201);
    assert_eq!(peer.received().len(), sent + 1);
    let env = api.get("/v1/environment", &worker).await.expect(200);
    assert_eq!(env["variables"], json!({}), "use never hands out the value");
    // `use` is not enough for an unsaved definition: it could send the values anywhere.
    api.post("/v1/actions/run", &worker, unsaved)
        .await
        .expect_error(403, "action.reference_invalid");
    let details = api.get("/v1/secrets/BODY_PW", owner).await.expect(200);
    assert_eq!(details["last_used_by"], "identity:worker");
    let events = api.audit(owner).await;
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "action.run" && e["actor"] == "identity:worker" && e["outcome"] == "success")
    );
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "action.run" && e["actor"] == "identity:worker" && e["outcome"] == "denied")
    );

    // An identity of another workspace sees none of this workspace's actions.
    let b = api
        .post("/v1/workspaces", owner, json!({"name": "team-b"}))
        .await
        .expect(201);
    let token_b = b["token"].as_str().unwrap().to_owned();
    let stranger = identity(&api, &token_b, "worker", json!({"team": "pay"})).await;
    api.post(
        "/v1/policies",
        &token_b,
        json!({"name": "pay-use", "identities": ["worker"],
        "secret_tags": {"team": "pay"}, "allow": ["read", "use"]}),
    )
    .await
    .expect(201);
    api.post(
        "/v1/actions/order-hook/run",
        &stranger,
        json!({"input": {"order": "5"}}),
    )
    .await
    .expect_error(404, "action.not_found");
    api.post("/v1/actions/order-hook/run", &token_b, json!({"input": {"order": "5"}}))
        .await
        .expect_error(404, "action.not_found");
    assert!(
        api.get("/v1/actions", &token_b).await.expect(200)["actions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(peer.received().len(), sent + 1);
}

#[tokio::test]
async fn a_destination_that_fails_is_a_424_with_the_senders_code() {
    let (server, api) = start(true).await;
    let owner = &server.owner_token;
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let reply = api
        .post(
            "/v1/actions/run",
            owner,
            json!({"definition": {
            "kind": "http", "method": "GET", "url": format!("http://127.0.0.1:{port}/")}}),
        )
        .await;
    reply.expect_error(424, "action.connect_failed");
}

/// A database secret's password and its derived URL go where the action puts them, and come back
/// redacted; the redactor knows the type's sensitive fields from its description (issue 10).
#[tokio::test]
async fn a_database_secrets_fields_and_url_are_sent_and_redacted() {
    let (server, api) = start(true).await;
    let owner = &server.owner_token;
    let peer = EchoPeer::start().await;
    api.post(
        "/v1/secrets",
        owner,
        json!({"name": "DB", "type": "database", "visibility": "restricted",
               "value": {"engine": "postgres", "host": "db.internal", "database": "app",
                         "username": "app", "password": "db-pass/word 1"}}),
    )
    .await
    .expect(201);
    let definition = json!({
        "kind": "http",
        "method": "POST",
        "url": format!("{}/connect", peer.url),
        "headers": {"Authorization": "Bearer {secrets.DB.password}"},
        "body": "{secrets.DB.url}",
    });
    api.post(
        "/v1/actions",
        owner,
        json!({"name": "connect", "definition": definition}),
    )
    .await
    .expect(201);
    let ran = api.post("/v1/actions/connect/run", owner, json!({})).await.expect(200);
    let got = &peer.received()[0];
    let url = "postgres://app:db-pass%2Fword%201@db.internal:5432/app";
    assert_eq!(got.body, url);
    let body: Value = serde_json::from_str(ran["http"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["got_auth"], "Bearer [REDACTED]");
    assert_eq!(body["got_body"], "[REDACTED]");
    assert!(!ran.to_string().contains("db-pass"), "{ran}");
}
