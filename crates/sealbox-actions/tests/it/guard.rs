//! Without --allow-private-destinations, loopback, private and metadata destinations are refused
//! before any connection is made, whether named by address or by a host name.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sealbox_actions::{Email, HttpCall, SmtpAccount, SqsAccount, SqsMessage};
use secrecy::SecretString;

use crate::support::outbound;

/// A listener on 127.0.0.1 that counts the connections it accepts.
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, count)
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
async fn http_to_loopback_is_refused_by_address_and_by_name() {
    let (addr, seen) = crate::http::start().await;
    let port = addr.port();
    let out = outbound(false);
    let cases = [
        (
            format!("http://127.0.0.1:{port}/echo"),
            "127.0.0.1",
            "a loopback address",
        ),
        (
            format!("http://localhost:{port}/echo"),
            "localhost",
            "a loopback address",
        ),
        (
            format!("http://LOCALHOST:{port}/echo"),
            "localhost",
            "a loopback address",
        ),
        (format!("http://[::1]:{port}/echo"), "[::1]", "a loopback address"),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/echo"),
            "[::ffff:7f00:1]",
            "a loopback address",
        ),
        // Other spellings of 127.0.0.1 that URL parsing turns into the same address.
        (
            format!("http://2130706433:{port}/echo"),
            "127.0.0.1",
            "a loopback address",
        ),
        (format!("http://0x7f.1:{port}/echo"), "127.0.0.1", "a loopback address"),
        (
            format!("http://0177.0.0.1:{port}/echo"),
            "127.0.0.1",
            "a loopback address",
        ),
        // IPv6 forms that carry 127.0.0.1 (IPv4-translated, 6to4, local-use NAT64).
        (
            format!("http://[::ffff:0:7f00:1]:{port}/echo"),
            "[::ffff:0:7f00:1]",
            "a loopback address",
        ),
        (
            format!("http://[2002:7f00:1::1]:{port}/echo"),
            "[2002:7f00:1::1]",
            "a loopback address",
        ),
        (
            format!("http://[64:ff9b:1::7f00:1]:{port}/echo"),
            "[64:ff9b:1::7f00:1]",
            "a loopback address",
        ),
        (
            format!("http://0.0.0.0:{port}/echo"),
            "0.0.0.0",
            "an unspecified address",
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "169.254.169.254",
            "the cloud metadata address",
        ),
        (
            "http://[fd00:ec2::254]/latest/meta-data/".to_owned(),
            "[fd00:ec2::254]",
            "the cloud metadata address",
        ),
        ("http://10.1.2.3/".to_owned(), "10.1.2.3", "a private address"),
        ("https://192.168.0.1/".to_owned(), "192.168.0.1", "a private address"),
        ("http://172.16.5.4:8080/".to_owned(), "172.16.5.4", "a private address"),
        (
            "http://100.64.0.1/".to_owned(),
            "100.64.0.1",
            "a carrier-grade NAT address",
        ),
        ("http://[fe80::1]/".to_owned(), "[fe80::1]", "a link-local address"),
        ("http://224.0.0.1/".to_owned(), "224.0.0.1", "a multicast address"),
    ];
    for (url, host, reason) in cases {
        let err = out
            .http(get(url.clone()))
            .await
            .err()
            .unwrap_or_else(|| panic!("{url} was not refused"));
        assert_eq!(err.code(), "action.destination_refused", "{url}: {err}");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("destination {host} refused: it resolves to {reason} (")),
            "{url}: {message}"
        );
        assert!(
            message.ends_with("start the server with --allow-private-destinations to allow it"),
            "{message}"
        );
    }
    assert!(seen.all().is_empty(), "nothing reached the server: {:?}", seen.all());

    // The same server, with the flag: the call goes through (the refusals above were the guard).
    let reply = outbound(true)
        .http(get(format!("http://localhost:{port}/echo")))
        .await
        .unwrap();
    assert_eq!(reply.status, 201);
    assert_eq!(seen.all().len(), 1);
}

#[tokio::test]
async fn smtp_to_localhost_is_refused_before_connecting() {
    let (port, connections) = counting_listener().await;
    let account = SmtpAccount {
        host: "localhost".into(),
        port,
        username: Some("ada".into()),
        password: Some(SecretString::from("pw-never-sent")),
        from: Some("ada@example.com".into()),
    };
    let email = Email {
        from: None,
        to: vec!["bob@example.com".into()],
        cc: vec![],
        bcc: vec![],
        subject: "s".into(),
        text: "t".into(),
        html: None,
    };
    let err = outbound(false).email(&account, &email).await.err().unwrap();
    assert_eq!(err.code(), "action.destination_refused");
    assert!(
        err.to_string()
            .starts_with("destination localhost refused: it resolves to a loopback address"),
        "{err}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn sqs_to_a_loopback_queue_url_is_refused_before_connecting() {
    let (port, connections) = counting_listener().await;
    let account = SqsAccount {
        aws_region: "us-east-1".into(),
        queue_url: format!("http://localhost:{port}/123456789012/q"),
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: SecretString::from("never-used"),
    };
    let message = SqsMessage {
        body: "b".into(),
        attributes: BTreeMap::new(),
        delay_seconds: None,
        message_group_id: None,
        message_deduplication_id: None,
    };
    let err = outbound(false).sqs(&account, &message).await.err().unwrap();
    assert_eq!(err.code(), "action.destination_refused");
    assert!(err.to_string().starts_with("destination localhost refused"), "{err}");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}
