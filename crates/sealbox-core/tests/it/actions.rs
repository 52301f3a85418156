//! Action runs in core, with a recording dispatcher in place of the network: nothing is sent
//! unless each use is on record, and what comes back is redacted.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use sealbox_core::actions::{
    DispatchError, DispatchFailure, Dispatcher, EmailMessage, EmailSent, HttpRequest, HttpResponse, SmtpAccount,
    SqsAccount, SqsMessage, SqsSent,
};
use sealbox_core::{CoreConfig, ManualClock, RequestContext, Sealbox};
use sealbox_crypto::{ExposeSecret, RootKey};
use sealbox_store::{SqliteStore, Store};
use sealbox_types::{ActionDefinition, HttpActionSpec};

use crate::text;

const VALUE: &str = "core action/secret+0451";

/// Answers every HTTP call with the rendered Authorization header in the body, in its raw,
/// base64 and URL-encoded forms; fails when `fail` is set.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    fail: bool,
    /// Fail with a long, multi-line message that echoes the value across core's length cap.
    fail_long: bool,
}

#[async_trait]
impl Dispatcher for Recorder {
    async fn http(&self, request: HttpRequest) -> Result<HttpResponse, DispatchError> {
        let auth = request
            .headers
            .iter()
            .find(|(k, _)| k == "Authorization")
            .map(|(_, v)| v.expose_secret().to_owned())
            .unwrap_or_default();
        self.calls.lock().unwrap().push(auth.clone());
        if self.fail_long {
            return Err(DispatchError {
                code: "action.sqs_failed",
                message: format!("{}\r\n{auth}\r\n{}", "x".repeat(900), "y".repeat(2000)),
                failure: DispatchFailure::Peer,
            });
        }
        if self.fail {
            return Err(DispatchError {
                code: "action.timeout",
                message: format!("timed out talking to a peer that said {auth}"),
                failure: DispatchFailure::Peer,
            });
        }
        let token = auth.strip_prefix("Bearer ").unwrap_or_default();
        let b64 = base64::engine::general_purpose::STANDARD.encode(token);
        let url = token.replace(' ', "%20").replace('/', "%2F").replace('+', "%2B");
        let form = token.replace('+', "%2b").replace(' ', "+").replace('/', "%2f");
        Ok(HttpResponse {
            status: 200,
            headers: vec![("x-echo".into(), auth.clone())],
            body: format!("{auth} {b64} {url} {form}").into_bytes(),
        })
    }

    async fn email(&self, _: SmtpAccount, _: EmailMessage) -> Result<EmailSent, DispatchError> {
        unreachable!("no e-mail in these tests")
    }

    async fn sqs(&self, _: SqsAccount, _: SqsMessage) -> Result<SqsSent, DispatchError> {
        unreachable!("no SQS in these tests")
    }
}

struct Setup {
    core: Sealbox,
    recorder: Arc<Recorder>,
    owner: sealbox_core::Principal,
    db: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn setup(fail: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let root_key = RootKey::generate(1);
    let chain_key = sealbox_core::audit_chain_key(&root_key);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db, chain_key).await.unwrap());
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let recorder = Arc::new(Recorder {
        fail,
        ..Recorder::default()
    });
    let core = Sealbox::open(store, root_key, clock, CoreConfig::default())
        .await
        .unwrap()
        .with_dispatcher(recorder.clone());
    let creds = core.bootstrap("default", "owner@example.com").await.unwrap().unwrap();
    let owner = core.authenticate(creds.token.expose_secret()).await.unwrap();
    let ctx = RequestContext::default();
    core.create_secret(&owner, &ctx, text("API", VALUE)).await.unwrap();
    Setup {
        core,
        recorder,
        owner,
        db,
        _dir: dir,
    }
}

fn call_api() -> ActionDefinition {
    ActionDefinition::Http(HttpActionSpec {
        method: "POST".into(),
        url: "https://api.example.com/v1".into(),
        headers: [("Authorization".to_string(), "Bearer {secrets.API}".to_string())].into(),
        query: Default::default(),
        body: None,
    })
}

#[tokio::test]
async fn the_reply_and_a_failure_message_come_back_redacted() {
    let s = setup(false).await;
    let ctx = RequestContext::default();
    let ran = s
        .core
        .run_unsaved_action(&s.owner, &ctx, call_api(), Default::default())
        .await
        .unwrap();
    assert_eq!(*s.recorder.calls.lock().unwrap(), [format!("Bearer {VALUE}")]);
    let http = ran.http.unwrap();
    assert_eq!(http.headers[0].value, "Bearer [REDACTED]");
    assert_eq!(http.body, "Bearer [REDACTED] [REDACTED] [REDACTED] [REDACTED]");
    assert_eq!(ran.destination, "api.example.com");

    let s = setup(true).await;
    let e = s
        .core
        .run_unsaved_action(&s.owner, &ctx, call_api(), Default::default())
        .await
        .unwrap_err();
    assert_eq!(e.code, "action.timeout");
    assert_eq!(e.class, sealbox_core::ErrorClass::FailedDependency);
    assert_eq!(e.message, "timed out talking to a peer that said Bearer [REDACTED]");
}

/// A referenced field of a structured secret is redacted however short it is (fields that are
/// not referenced are redacted from 4 characters on).
#[tokio::test]
async fn a_short_referenced_field_is_redacted() {
    let s = setup(false).await;
    let ctx = RequestContext::default();
    let mut smtp = text("MAIL", "");
    smtp.secret_type = sealbox_types::SecretType::Smtp;
    smtp.value = serde_json::json!({"host": "smtp.example.com", "port": 587, "username": "ada", "password": "q7z"});
    s.core.create_secret(&s.owner, &ctx, smtp).await.unwrap();
    let definition = ActionDefinition::Http(HttpActionSpec {
        method: "POST".into(),
        url: "https://api.example.com/v1".into(),
        headers: [(
            "Authorization".to_string(),
            "Bearer {secrets.MAIL.password}".to_string(),
        )]
        .into(),
        query: Default::default(),
        body: None,
    });
    let ran = s
        .core
        .run_unsaved_action(&s.owner, &ctx, definition, Default::default())
        .await
        .unwrap();
    assert_eq!(*s.recorder.calls.lock().unwrap(), ["Bearer q7z"]);
    let http = ran.http.unwrap();
    assert_eq!(http.headers[0].value, "Bearer [REDACTED]");
    assert!(!http.body.contains("q7z"), "{}", http.body);
}

/// A long failure message is redacted whole, then shortened and put on one line.
#[tokio::test]
async fn a_long_failure_message_is_redacted_before_it_is_shortened() {
    let s = setup(false).await;
    let core = s.core.with_dispatcher(Arc::new(Recorder {
        fail_long: true,
        ..Recorder::default()
    }));
    let e = core
        .run_unsaved_action(&s.owner, &RequestContext::default(), call_api(), Default::default())
        .await
        .unwrap_err();
    assert_eq!(e.code, "action.sqs_failed");
    assert!(e.message.contains("Bearer [REDACTED]"), "{}", e.message);
    assert!(!e.message.contains("core act"), "{}", e.message);
    assert!(!e.message.contains(['\r', '\n']), "{}", e.message);
    assert!(e.message.chars().count() <= 1024, "{}", e.message.chars().count());
}

#[tokio::test]
async fn nothing_is_sent_when_the_use_cannot_be_audited() {
    let s = setup(false).await;
    let ctx = RequestContext::default();
    rusqlite::Connection::open(&s.db)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse_use BEFORE INSERT ON audit_events WHEN NEW.action = 'secret.use' \
             BEGIN SELECT RAISE(ABORT, 'audit refused'); END;",
        )
        .unwrap();
    let e = s
        .core
        .run_unsaved_action(&s.owner, &ctx, call_api(), Default::default())
        .await
        .unwrap_err();
    assert_eq!(e.code, "audit.unavailable");
    assert!(s.recorder.calls.lock().unwrap().is_empty(), "nothing was sent");
    let details = s.core.get_secret(&s.owner, "API").await.unwrap();
    assert!(details.last_used_at.is_none());
}

#[tokio::test]
async fn without_a_dispatcher_a_run_is_refused_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let root_key = RootKey::generate(1);
    let chain_key = sealbox_core::audit_chain_key(&root_key);
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("db.sqlite"), chain_key)
            .await
            .unwrap(),
    );
    let core = Sealbox::open(store, root_key, Arc::new(ManualClock::new(0)), CoreConfig::default())
        .await
        .unwrap();
    let creds = core.bootstrap("default", "owner@example.com").await.unwrap().unwrap();
    let owner = core.authenticate(creds.token.expose_secret()).await.unwrap();
    let ctx = RequestContext::default();
    core.create_secret(&owner, &ctx, text("API", VALUE)).await.unwrap();
    let e = core
        .run_unsaved_action(&owner, &ctx, call_api(), Default::default())
        .await
        .unwrap_err();
    assert_eq!(e.code, "action.unavailable");
    let events = core.list_audit(&owner, Default::default()).await.unwrap();
    let run = events.iter().rfind(|e| e.action == "action.run").unwrap();
    assert_eq!(run.outcome, "failure");
    assert_eq!(run.target, "action:(unsaved)");
}
