//! Logs never hold a secret value: every test in this binary logs at the most verbose level into
//! one buffer, and a scenario with known values searches it.

use std::io::Write;
use std::sync::{Mutex, Once};

use serde_json::json;

use crate::setup;

static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

struct Buffer;

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber at `trace` for everything (sqlx, hyper, tower, sealbox).
pub fn capture() {
    INSTALL.call_once(|| {
        tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_writer(|| Buffer)
            .with_ansi(false)
            .init();
    });
}

fn log_text() -> String {
    String::from_utf8_lossy(&LOG.lock().unwrap()).into_owned()
}

/// Fails if any of `values` was logged so far (by any test of this binary).
#[track_caller]
pub fn assert_clean(values: &[&str]) {
    let text = log_text();
    for value in values {
        assert!(!text.contains(value), "{value:?} appears in the log");
    }
}

#[tokio::test]
async fn no_secret_value_or_token_appears_in_the_log_at_trace_level() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    let values = [
        "log-canary-created",
        "log-canary-updated",
        "log-canary-smtp-password",
        "log-canary-bad-value",
    ];
    api.create_text(owner, "LOGGED", values[0]).await;
    api.patch("/v1/secrets/LOGGED", owner, json!({"value": values[1]}))
        .await
        .expect(200);
    api.post(
        "/v1/secrets",
        owner,
        json!({"name": "MAIL", "type": "smtp", "value": {"host": "h.example.com", "password": values[2]}}),
    )
    .await
    .expect(201);
    api.reveal(owner, "LOGGED").await.expect(200);
    api.reveal(owner, "MAIL").await.expect(200);
    api.post("/v1/secrets/LOGGED/rollback", owner, json!({"to": 1}))
        .await
        .expect(200);
    // Refused input that carries a value.
    api.post(
        "/v1/secrets",
        owner,
        json!({"name": "9BAD", "type": "text", "value": values[3]}),
    )
    .await
    .expect_error(400, "secret.name_invalid");
    api.patch(
        "/v1/secrets/LOGGED",
        owner,
        json!({"value": values[3], "expected_version": 1}),
    )
    .await
    .expect_error(409, "secret.version_conflict");
    let session = api.login(&server.owner_email, &server.owner_password).await;
    let text = log_text();
    assert!(
        text.contains("/v1/secrets/LOGGED/reveal"),
        "the capture works: requests are logged"
    );
    assert!(
        text.contains("TRACE") || text.contains("DEBUG"),
        "the most verbose levels are on"
    );
    for needle in values
        .iter()
        .copied()
        .chain([owner.as_str(), session.as_str(), server.owner_password.as_str()])
    {
        assert!(!text.contains(needle), "{needle} appears in the log");
    }
}
