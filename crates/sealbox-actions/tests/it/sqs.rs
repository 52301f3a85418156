//! `Outbound::sqs` against real moto in server mode; messages are read back through moto.

use std::collections::BTreeMap;
use std::time::Duration;

use sealbox_actions::{SqsAccount, SqsMessage};
use sealbox_test_peers::Moto;
use secrecy::SecretString;
use serde_json::json;

use crate::support::outbound;

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
