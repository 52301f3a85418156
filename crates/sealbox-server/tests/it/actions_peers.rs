//! E-mail and SQS actions end to end: the real server and its senders against aiosmtpd (STARTTLS
//! and AUTH, with a test CA given by --extra-ca-file) and moto in server mode, on 127.0.0.1.
//! The peers are sealbox-test-peers' (shared with the sealbox-actions tests); `scripts/test`
//! installs them and sets `SEALBOX_TEST_PYTHON`.

use std::path::PathBuf;

use sealbox_test_peers::{Moto, Smtp};
use sealbox_testkit::{Options, TestServer};
use serde_json::{Value, json};

use crate::{Api, logs};

const SMTP_USER: &str = "mailer@example.com";
const SMTP_PASSWORD: &str = "smtp-password-through-action-5f4e";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// aiosmtpd accepting `SMTP_USER`/`SMTP_PASSWORD`: `mode` is `starttls` (STARTTLS and AUTH,
/// certificate for `localhost`) or `plain` (no STARTTLS).
fn start_smtp(mode: &str) -> Option<Smtp> {
    Smtp::start(mode, &["localhost"], SMTP_USER, SMTP_PASSWORD)
}

async fn server_trusting(ca_file: Option<PathBuf>) -> (TestServer, Api) {
    logs::capture();
    let server = TestServer::start_with(Options {
        allow_private_destinations: true,
        extra_ca_file: ca_file,
        ..Options::default()
    })
    .await;
    let api = Api::new(&server);
    (server, api)
}

async fn smtp_secret(api: &Api, owner: &str, name: &str, port: u16, password: &str) {
    api.post(
        "/v1/secrets",
        owner,
        json!({"name": name, "type": "smtp", "visibility": "restricted", "value": {
            "host": "localhost", "port": port, "username": SMTP_USER, "password": password,
            "from": "alerts@example.com"}}),
    )
    .await
    .expect(201);
}

fn shipped_email(secret: &str) -> Value {
    json!({
        "kind": "email", "secret": secret,
        "to": ["{input.to}"], "cc": ["ops@example.com"], "bcc": ["audit-hidden@example.com"],
        "subject": "Order {input.order} shipped",
        "text": "Order {input.order} is on its way.",
        "html": "<p>Order <b>{input.order}</b> is on its way.</p>",
    })
}

#[tokio::test]
async fn an_email_action_sends_through_the_smtp_secret_with_starttls() {
    let Some(smtp) = start_smtp("starttls") else { return };
    let (server, api) = server_trusting(Some(smtp.ca_file.clone())).await;
    let owner = &server.owner_token;
    smtp_secret(&api, owner, "MAIL", smtp.peer.port, SMTP_PASSWORD).await;
    api.post(
        "/v1/actions",
        owner,
        json!({"name": "shipped", "definition": shipped_email("MAIL")}),
    )
    .await
    .expect(201);

    let ran = api
        .post(
            "/v1/actions/shipped/run",
            owner,
            json!({"input": {"to": "ann@example.com", "order": "1042"}}),
        )
        .await
        .expect(200);
    assert_eq!(ran["kind"], "email");
    assert_eq!(ran["destination"], "localhost");
    assert_eq!(ran["email"]["recipients"], 3);
    assert!(
        ran["email"]["server_reply"].as_str().unwrap().starts_with("250"),
        "{ran}"
    );

    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let m = &messages[0];
    assert_eq!(m["tls"], true);
    assert_eq!(m["login"], SMTP_USER);
    assert_eq!(m["mail_from"], "alerts@example.com");
    assert_eq!(
        m["rcpt_tos"],
        json!(["ann@example.com", "ops@example.com", "audit-hidden@example.com"])
    );
    let data = m["data"].as_str().unwrap();
    assert!(data.contains("Subject: Order 1042 shipped"), "{data}");
    assert!(data.contains("To: ann@example.com"), "{data}");
    assert!(data.contains("Cc: ops@example.com"), "{data}");
    assert!(!data.contains("audit-hidden"), "bcc only in the envelope: {data}");
    assert!(data.contains("Order 1042 is on its way."), "{data}");
    assert!(data.contains("<b>1042</b>"), "{data}");
    assert_eq!(smtp.commands().iter().position(|c| c == "STARTTLS"), Some(1));

    let events = api.audit(owner).await;
    let run = events.iter().rfind(|e| e["action"] == "action.run").unwrap();
    assert_eq!(run["outcome"], "success");
    assert_eq!(run["detail"]["secrets"], json!(["MAIL"]));
    assert_eq!(run["detail"]["destination"], "localhost");
    assert!(!Value::from(events).to_string().contains(SMTP_PASSWORD));
    let details = api.get("/v1/secrets/MAIL", owner).await.expect(200);
    assert!(details["last_used_at"].is_string());

    // A wrong password: the server's 535 comes back, without the password.
    smtp_secret(&api, owner, "MAIL_WRONG", smtp.peer.port, "not-the-password-9c8d").await;
    let wrong = api
        .post(
            "/v1/actions/run",
            owner,
            json!({"definition": shipped_email("MAIL_WRONG"), "input": {"to": "ann@example.com", "order": "1"}}),
        )
        .await;
    wrong.expect_error(424, "action.smtp_rejected");
    assert!(wrong.message().contains("535"), "{}", wrong.message());
    assert!(
        !wrong.message().contains("not-the-password-9c8d"),
        "{}",
        wrong.message()
    );
    assert_eq!(smtp.messages().len(), 1);
    let events = api.audit(owner).await;
    let failed = events.iter().rfind(|e| e["action"] == "action.run").unwrap();
    assert_eq!(failed["outcome"], "failure");
    assert_eq!(failed["detail"]["code"], "action.smtp_rejected");
    logs::assert_clean(&[SMTP_PASSWORD, "not-the-password-9c8d"]);
}

#[tokio::test]
async fn an_smtp_server_without_starttls_never_sees_the_credentials() {
    let Some(smtp) = start_smtp("plain") else { return };
    let (server, api) = server_trusting(Some(smtp.ca_file.clone())).await;
    let owner = &server.owner_token;
    smtp_secret(&api, owner, "MAIL", smtp.peer.port, SMTP_PASSWORD).await;
    let reply = api
        .post(
            "/v1/actions/run",
            owner,
            json!({"definition": shipped_email("MAIL"), "input": {"to": "ann@example.com", "order": "1"}}),
        )
        .await;
    reply.expect_error(424, "action.starttls_unavailable");
    let commands = smtp.commands();
    assert!(!commands.iter().any(|c| c == "AUTH" || c == "MAIL"), "{commands:?}");
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn without_the_extra_ca_the_smtp_certificate_is_refused() {
    let Some(smtp) = start_smtp("starttls") else { return };
    let (server, api) = server_trusting(None).await;
    let owner = &server.owner_token;
    smtp_secret(&api, owner, "MAIL", smtp.peer.port, SMTP_PASSWORD).await;
    let reply = api
        .post(
            "/v1/actions/run",
            owner,
            json!({"definition": shipped_email("MAIL"), "input": {"to": "ann@example.com", "order": "1"}}),
        )
        .await;
    reply.expect_error(424, "action.tls_failed");
    assert!(!smtp.commands().iter().any(|c| c == "AUTH"), "{:?}", smtp.commands());
}

async fn sqs_secret(api: &Api, owner: &str, name: &str, queue_url: &str) {
    sqs_secret_with_key(api, owner, name, queue_url, "AKIAIOSFODNN7EXAMPLE", AWS_SECRET).await;
}

async fn sqs_secret_with_key(api: &Api, owner: &str, name: &str, queue_url: &str, key_id: &str, key: &str) {
    api.post(
        "/v1/secrets",
        owner,
        json!({"name": name, "type": "aws_sqs", "tags": {"team": "orders"}, "value": {
            "aws_region": "us-east-1", "queue_url": queue_url,
            "access_key_id": key_id, "secret_access_key": key}}),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn moto_checking_signatures_accepts_the_servers_and_refuses_a_wrong_key() {
    let Some(moto) = Moto::start() else { return };
    let (server, api) = server_trusting(None).await;
    let owner = &server.owner_token;
    let queue_url = moto.create_queue("signed", json!({})).await;
    let (key_id, key) = moto.iam_user_key().await;
    sqs_secret_with_key(&api, owner, "SIGNED_QUEUE", &queue_url, &key_id, &key).await;
    let wrong = format!("{}x", &key[..key.len() - 1]);
    sqs_secret_with_key(&api, owner, "WRONG_KEY_QUEUE", &queue_url, &key_id, &wrong).await;
    moto.enforce_auth(true).await;
    let send = |secret: &str| json!({"definition": {"kind": "sqs", "secret": secret, "body": "signed by sealbox"}});
    api.post("/v1/actions/run", owner, send("SIGNED_QUEUE"))
        .await
        .expect(200);
    let refused = api.post("/v1/actions/run", owner, send("WRONG_KEY_QUEUE")).await;
    refused.expect_error(424, "action.sqs_failed");
    assert!(
        refused.message().contains("SignatureDoesNotMatch"),
        "{}",
        refused.message()
    );
    assert!(!refused.message().contains(&wrong) && !refused.message().contains(&key));
    moto.enforce_auth(false).await;
    let received = moto.receive(&queue_url).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["Body"], "signed by sealbox");
}

#[tokio::test]
async fn an_sqs_action_sends_a_signed_message_that_moto_hands_back() {
    let Some(moto) = Moto::start() else { return };
    let (server, api) = server_trusting(None).await;
    let owner = &server.owner_token;
    let queue_url = moto.create_queue("orders.fifo", json!({"FifoQueue": "true"})).await;
    sqs_secret(&api, owner, "ORDERS_QUEUE", &queue_url).await;
    api.post(
        "/v1/actions",
        owner,
        json!({"name": "enqueue", "definition": {
        "kind": "sqs", "secret": "ORDERS_QUEUE",
        "body": "{{\"order\": \"{input.order}\"}}",
        "attributes": {"source": "sealbox", "order": "{input.order}"},
        "message_group_id": "orders", "message_deduplication_id": "order-{input.order}"}}),
    )
    .await
    .expect(201);
    // An identity with `use` on the queue's secret may send; it never receives the keys.
    api.post("/v1/identities", owner, json!({"name": "shop", "tags": {}}))
        .await
        .expect(201);
    let shop = api
        .post("/v1/identities/shop/tokens", owner, json!({"name": "t"}))
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(
        "/v1/policies",
        owner,
        json!({"name": "orders-use", "identities": ["shop"],
        "secret_tags": {"team": "orders"}, "allow": ["use"]}),
    )
    .await
    .expect(201);

    let ran = api
        .post("/v1/actions/enqueue/run", &shop, json!({"input": {"order": "1042"}}))
        .await
        .expect(200);
    assert_eq!(ran["kind"], "sqs");
    assert_eq!(ran["destination"], "127.0.0.1");
    let message_id = ran["sqs"]["message_id"].as_str().unwrap().to_owned();
    assert!(!message_id.is_empty());

    let received = moto.receive(&queue_url).await;
    assert_eq!(received.len(), 1, "{received:?}");
    let r = &received[0];
    assert_eq!(r["MessageId"], message_id.as_str());
    assert_eq!(r["Body"], "{\"order\": \"1042\"}");
    assert_eq!(r["MD5OfBody"], ran["sqs"]["md5_of_body"]);
    assert_eq!(
        r["MessageAttributes"]["source"],
        json!({"DataType": "String", "StringValue": "sealbox"})
    );
    assert_eq!(
        r["MessageAttributes"]["order"],
        json!({"DataType": "String", "StringValue": "1042"})
    );
    assert_eq!(r["Attributes"]["MessageGroupId"], "orders");
    assert_eq!(r["Attributes"]["MessageDeduplicationId"], "order-1042");
    assert_eq!(
        api.get("/v1/secrets/ORDERS_QUEUE", owner).await.expect(200)["last_used_by"],
        "identity:shop"
    );

    // SQS's own error (a queue that does not exist) is a 424 with its code, never the key.
    let gone = format!("http://127.0.0.1:{}/123456789012/no-such-queue", moto.peer.port);
    sqs_secret(&api, owner, "GONE_QUEUE", &gone).await;
    let reply = api
        .post(
            "/v1/actions/run",
            owner,
            json!({"definition": {
            "kind": "sqs", "secret": "GONE_QUEUE", "body": "lost"}}),
        )
        .await;
    reply.expect_error(424, "action.sqs_failed");
    assert!(!reply.message().contains(AWS_SECRET));
    // A secret of the wrong type is refused before anything is sent.
    api.post(
        "/v1/secrets",
        owner,
        json!({"name": "PLAIN", "type": "text", "value": "x"}),
    )
    .await
    .expect(201);
    api.post(
        "/v1/actions/run",
        owner,
        json!({"definition": {
        "kind": "sqs", "secret": "PLAIN", "body": "b"}}),
    )
    .await
    .expect_error(422, "action.reference_invalid");
    let audit = Value::from(api.audit(owner).await).to_string();
    assert!(!audit.contains(AWS_SECRET));
    logs::assert_clean(&[AWS_SECRET]);
}
