//! `Outbound::sqs` against real moto in server mode; messages are read back through moto.

use std::collections::BTreeMap;
use std::time::Duration;

use sealbox_actions::{SqsAccount, SqsMessage};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::support::{Peer, outbound, python_with, start_peer};

const MOTO: &str = "\
import time
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)
server.start()
print('READY %d' % server.get_host_and_port()[1], flush=True)
while True:
    time.sleep(3600)
";

struct Moto {
    peer: Peer,
    http: reqwest::Client,
}

impl Moto {
    fn start() -> Option<Moto> {
        let python = python_with("moto.server", "moto[server]==5.2.5")?;
        let peer = start_peer(
            &python,
            &["-c", MOTO],
            &[("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")],
            None,
            true,
        );
        Some(Moto {
            peer,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        })
    }

    /// One SQS JSON-protocol call, straight to moto (the test's own reading and set-up).
    async fn call(&self, action: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("http://127.0.0.1:{}/", self.peer.port))
            .header("x-amz-target", format!("AmazonSQS.{action}"))
            .header("content-type", "application/x-amz-json-1.0")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// One IAM query-protocol call (unsigned; moto routes it by the credential scope).
    async fn iam(&self, form: &[(&str, &str)]) -> String {
        let response = self
            .http
            .post(format!("http://127.0.0.1:{}/", self.peer.port))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(serde_urlencoded::to_string(form).unwrap())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "{text}");
        text
    }

    /// From now on moto checks every request's signature (with botocore) and its IAM permissions
    /// (`on`), or stops checking (`!on`).
    async fn enforce_auth(&self, on: bool) {
        let response = self
            .http
            .post(format!("http://127.0.0.1:{}/moto-api/reset-auth", self.peer.port))
            .body(if on { "0" } else { "inf" })
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{}", response.text().await.unwrap());
    }

    /// An IAM user allowed sqs:*, and its access key (id, secret).
    async fn iam_user_key(&self) -> (String, String) {
        self.iam(&[
            ("Action", "CreateUser"),
            ("UserName", "sealbox"),
            ("Version", "2010-05-08"),
        ])
        .await;
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#;
        self.iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", "sealbox"),
            ("PolicyName", "sqs"),
            ("PolicyDocument", policy),
            ("Version", "2010-05-08"),
        ])
        .await;
        let xml = self
            .iam(&[
                ("Action", "CreateAccessKey"),
                ("UserName", "sealbox"),
                ("Version", "2010-05-08"),
            ])
            .await;
        let between = |tag: &str| {
            let start = xml.find(&format!("<{tag}>")).unwrap() + tag.len() + 2;
            let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
            xml[start..end].to_owned()
        };
        (between("AccessKeyId"), between("SecretAccessKey"))
    }

    async fn create_queue(&self, name: &str, attributes: Value) -> String {
        let (status, v) = self
            .call("CreateQueue", json!({"QueueName": name, "Attributes": attributes}))
            .await;
        assert_eq!(status, 200, "{v}");
        v["QueueUrl"].as_str().unwrap().to_owned()
    }

    async fn receive(&self, queue_url: &str) -> Vec<Value> {
        let (status, v) = self
            .call(
                "ReceiveMessage",
                json!({
                    "QueueUrl": queue_url,
                    "MaxNumberOfMessages": 10,
                    "MessageAttributeNames": ["All"],
                    "MessageSystemAttributeNames": ["All"],
                    "AttributeNames": ["All"],
                    "WaitTimeSeconds": 0
                }),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v.get("Messages").and_then(Value::as_array).cloned().unwrap_or_default()
    }
}

fn account(queue_url: &str) -> SqsAccount {
    SqsAccount {
        aws_region: "us-east-1".into(),
        queue_url: queue_url.into(),
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_access_key: SecretString::from("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    }
}

fn message(body: &str) -> SqsMessage {
    SqsMessage {
        body: body.into(),
        attributes: BTreeMap::new(),
        delay_seconds: None,
        message_group_id: None,
        message_deduplication_id: None,
    }
}

#[tokio::test]
async fn a_message_with_attributes_is_read_back_from_the_queue() {
    let Some(moto) = Moto::start() else { return };
    let queue_url = moto.create_queue("sealbox-actions", json!({})).await;
    let mut m = message(r#"{"event":"deploy","service":"api"}"#);
    m.attributes.insert("kind".into(), "deploy".into());
    m.attributes.insert("team".into(), "platform ops".into());
    let sent = outbound(true).sqs(&account(&queue_url), &m).await.unwrap();
    assert!(!sent.message_id.is_empty());

    let received = moto.receive(&queue_url).await;
    assert_eq!(received.len(), 1, "{received:?}");
    let r = &received[0];
    assert_eq!(r["MessageId"], sent.message_id.as_str());
    assert_eq!(r["Body"], r#"{"event":"deploy","service":"api"}"#);
    // MD5 of the body as SQS computes it; sealbox hands it back.
    assert_eq!(r["MD5OfBody"].as_str(), sent.md5_of_body.as_deref());
    let md5 = r["MD5OfBody"].as_str().unwrap();
    assert!(md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit()), "{md5}");
    let attributes = &r["MessageAttributes"];
    assert_eq!(
        attributes["kind"],
        json!({"DataType": "String", "StringValue": "deploy"})
    );
    assert_eq!(
        attributes["team"],
        json!({"DataType": "String", "StringValue": "platform ops"})
    );
}

#[tokio::test]
async fn a_fifo_queue_gets_the_group_and_deduplication_ids() {
    let Some(moto) = Moto::start() else { return };
    let queue_url = moto
        .create_queue("sealbox-actions.fifo", json!({"FifoQueue": "true"}))
        .await;
    let mut m = message("order 42 paid");
    m.message_group_id = Some("orders".into());
    m.message_deduplication_id = Some("order-42-paid".into());
    let out = outbound(true);
    let sent = out.sqs(&account(&queue_url), &m).await.unwrap();

    let received = moto.receive(&queue_url).await;
    assert_eq!(received.len(), 1, "{received:?}");
    let r = &received[0];
    assert_eq!(r["MessageId"], sent.message_id.as_str());
    assert_eq!(r["Body"], "order 42 paid");
    assert_eq!(r["Attributes"]["MessageGroupId"], "orders");
    assert_eq!(r["Attributes"]["MessageDeduplicationId"], "order-42-paid");

    // A FIFO queue needs a group id: SQS's own error comes back.
    let err = out.sqs(&account(&queue_url), &message("no group")).await.err().unwrap();
    assert_eq!(err.code(), "action.sqs_failed");
    assert!(err.to_string().starts_with("SQS refused the message (400): "), "{err}");
    assert!(err.to_string().contains("MessageGroupId"), "{err}");
}

#[tokio::test]
async fn a_delayed_message_is_not_visible_before_its_delay() {
    let Some(moto) = Moto::start() else { return };
    let queue_url = moto.create_queue("sealbox-delayed", json!({})).await;
    let mut m = message("later");
    m.delay_seconds = Some(2);
    outbound(true).sqs(&account(&queue_url), &m).await.unwrap();
    assert!(moto.receive(&queue_url).await.is_empty(), "visible before its delay");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let received = moto.receive(&queue_url).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["Body"], "later");
}

#[tokio::test]
async fn a_queue_that_does_not_exist_is_an_sqs_error_with_aws_code_and_message() {
    let Some(moto) = Moto::start() else { return };
    let queue_url = format!("http://127.0.0.1:{}/123456789012/no-such-queue", moto.peer.port);
    let err = outbound(true)
        .sqs(&account(&queue_url), &message("lost"))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), "action.sqs_failed");
    let shown = err.to_string();
    assert!(shown.starts_with("SQS refused the message (400): "), "{shown}");
    assert!(
        shown.contains("QueueDoesNotExist") || shown.contains("NonExistentQueue"),
        "{shown}"
    );
    assert!(shown.to_lowercase().contains("does not exist"), "{shown}");
    assert!(!shown.contains("lost") && !shown.contains("wJalr"), "{shown}");
}

#[tokio::test]
async fn moto_verifies_the_signature_with_botocore() {
    let Some(moto) = Moto::start() else { return };
    let queue_url = moto.create_queue("sealbox-signed", json!({})).await;
    let (key_id, secret) = moto.iam_user_key().await;
    let signed_by = |secret: &str| SqsAccount {
        aws_region: "us-east-1".into(),
        queue_url: queue_url.clone(),
        access_key_id: key_id.clone(),
        secret_access_key: SecretString::from(secret.to_owned()),
    };
    let out = outbound(true);
    moto.enforce_auth(true).await;

    let mut m = message("signed and verified");
    m.attributes.insert("trace".into(), "abc-123".into());
    let sent = out.sqs(&signed_by(&secret), &m).await.unwrap();

    // A wrong secret key gives a signature that does not match.
    let err = out
        .sqs(&signed_by("not-the-secret-key"), &message("refused"))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), "action.sqs_failed");
    assert!(err.to_string().contains("SignatureDoesNotMatch"), "{err}");
    assert!(!err.to_string().contains("not-the-secret-key"), "{err}");

    // A key id moto does not know.
    let mut unknown = signed_by(&secret);
    unknown.access_key_id = "AKIAUNKNOWNKEY000000".into();
    let err = out.sqs(&unknown, &message("refused")).await.err().unwrap();
    assert!(err.to_string().contains("InvalidClientTokenId"), "{err}");

    moto.enforce_auth(false).await;
    let received = moto.receive(&queue_url).await;
    assert_eq!(
        received.len(),
        1,
        "only the correctly signed message arrived: {received:?}"
    );
    assert_eq!(received[0]["MessageId"], sent.message_id.as_str());
    assert_eq!(received[0]["Body"], "signed and verified");
}
