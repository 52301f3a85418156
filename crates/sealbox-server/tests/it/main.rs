//! The server end to end over real HTTP: a real server on 127.0.0.1:0 (testkit), driven with raw
//! requests so the tests see exactly what a client sees.

// Test code: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod actions;
mod actions_peers;
mod backup;
mod bad_input;
mod federation;
mod kinds;
mod login_limits;
mod logs;
mod machines;
mod metrics;
mod panel;
mod postgres;
mod readiness;
mod roles;
mod rotation;
mod seal;
mod secrets;
mod sso;
mod startup;
mod storage;
mod tokens;

use reqwest::{Method, StatusCode};
use sealbox_testkit::TestServer;
use serde_json::{Value, json};

/// A raw HTTP client bound to one server.
#[derive(Clone)]
pub struct Api {
    pub url: String,
    http: reqwest::Client,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub request_id: String,
}

impl Reply {
    /// The error code of an error reply.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("<no error code>")
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("<no error message>")
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "unexpected reply: {}", self.body);
        self.body
    }

    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "unexpected reply: {}", self.body);
        assert_eq!(self.code(), code, "unexpected reply: {}", self.body);
        assert_eq!(
            self.body["error"]["request_id"].as_str(),
            Some(self.request_id.as_str())
        );
        assert!(!self.message().is_empty());
    }
}

impl Api {
    pub fn new(server: &TestServer) -> Self {
        Self {
            url: server.url.clone(),
            http: reqwest::Client::new(),
        }
    }

    /// A client whose requests come from `local` (any 127.x.y.z is loopback on Linux), to be seen
    /// by the server as another client address.
    pub fn from_address(server: &TestServer, local: &str) -> Self {
        Self {
            url: server.url.clone(),
            http: reqwest::Client::builder()
                .local_address(local.parse::<std::net::IpAddr>().unwrap())
                .build()
                .unwrap(),
        }
    }

    pub async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::reply(req.send().await.expect("request")).await
    }

    pub async fn reply(resp: reqwest::Response) -> Reply {
        let status = resp.status();
        let request_id = resp
            .headers()
            .get("x-request-id")
            .expect("every response has x-request-id")
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = resp.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        // 503 is reserved for a dependency that is down (the fail-closed audit test makes one,
        // the readiness test stops the database), for password hashing that is busy, and for a
        // sealed server.
        let unavailable = status.as_u16() == 503
            && ["audit.unavailable", "auth.busy", "store.unavailable", "server.sealed"]
                .contains(&body["error"]["code"].as_str().unwrap_or(""));
        assert!(status.as_u16() < 500 || unavailable, "server error {status}: {body}");
        Reply {
            status,
            body,
            request_id,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.send(Method::DELETE, path, Some(token), None).await
    }

    /// Creates a text secret as `token`.
    pub async fn create_text(&self, token: &str, name: &str, value: &str) -> Value {
        self.post(
            "/v1/secrets",
            token,
            json!({"name": name, "type": "text", "value": value}),
        )
        .await
        .expect(201)
    }

    pub async fn reveal(&self, token: &str, name: &str) -> Reply {
        self.post(&format!("/v1/secrets/{name}/reveal"), token, json!({})).await
    }

    /// Adds a member with `role` and returns a session token for them.
    pub async fn member_token(&self, owner: &str, email: &str, role: &str) -> String {
        let password = "correct horse battery staple";
        self.post(
            "/v1/members",
            owner,
            json!({"email": email, "role": role, "password": password}),
        )
        .await
        .expect(201);
        self.login(email, password).await
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let reply = self
            .send(
                Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        reply.expect(200)["token"].as_str().unwrap().to_owned()
    }

    /// All audit events of the caller's workspace, oldest first.
    pub async fn audit(&self, token: &str) -> Vec<Value> {
        let body = self.get("/v1/audit?limit=1000", token).await.expect(200);
        body["events"].as_array().unwrap().clone()
    }
}

/// Two servers (replicas) sharing one PostgreSQL database and root key, or `None` when no
/// PostgreSQL is configured (the test then returns; under `CI=true` `postgres_url` fails instead).
pub async fn two_replicas_on_postgres() -> Option<(TestServer, TestServer)> {
    let url = sealbox_testkit::postgres_url().await?;
    let first = TestServer::start_with(sealbox_testkit::Options {
        database_url: Some(url.clone()),
        ..sealbox_testkit::Options::default()
    })
    .await;
    // The second replica shares the database and the root key, not the data directory.
    let second = TestServer::start_with(sealbox_testkit::Options {
        database_url: Some(url),
        root_key_file: Some(first.data_dir().join("root.key")),
        ..sealbox_testkit::Options::default()
    })
    .await;
    Some((first, second))
}

pub async fn setup() -> (TestServer, Api) {
    logs::capture();
    let server = TestServer::start().await;
    let api = Api::new(&server);
    (server, api)
}
