//! `Outbound::email` against real aiosmtpd servers (STARTTLS + AUTH, and one without STARTTLS).

use std::time::Duration;

use sealbox_actions::{Email, Outbound, OutboundConfig, SmtpAccount};
use sealbox_test_peers::Smtp;
use secrecy::SecretString;
use serde_json::Value;

use crate::support::outbound_with;

const USER: &str = "mailer@example.com";
const PASSWORD: &str = "correct-horse-battery-staple";

/// What these tests add to the aiosmtpd peer: an outbound trusting its CA, and an account for it.
trait SmtpExt {
    fn outbound(&self) -> Outbound;
    fn account(&self, password: &str) -> SmtpAccount;
}

impl SmtpExt for Smtp {
    fn outbound(&self) -> Outbound {
        outbound_with(OutboundConfig {
            allow_private_destinations: true,
            extra_ca_pem: Some(self.pki.ca_pem.clone().into_bytes()),
            ..OutboundConfig::default()
        })
    }

    fn account(&self, password: &str) -> SmtpAccount {
        SmtpAccount {
            host: "localhost".into(),
            port: self.peer.port,
            username: Some(USER.into()),
            password: Some(SecretString::from(password.to_owned())),
            from: Some("Sealbox Alerts <alerts@example.com>".into()),
        }
    }
}

/// aiosmtpd accepting `USER`/`PASSWORD`; `mode` is `starttls` (with a certificate for
/// `cert_names`) or `plain`.
fn start_smtp(mode: &str, cert_names: &[&str]) -> Option<Smtp> {
    Smtp::start(mode, cert_names, USER, PASSWORD)
}

fn email() -> Email {
    Email {
        from: None,
        to: vec!["Bob Builder <bob@example.com>".into(), "carol@example.com".into()],
        cc: vec!["dave@example.com".into()],
        bcc: vec!["eve-hidden@example.com".into()],
        subject: "Disk almost full on db-1".into(),
        text: "The disk is 91% full.\nPlease have a look.".into(),
        html: Some("<p>The disk is <b>91%</b> full.</p>".into()),
    }
}

/// The header block of a raw message, unfolded, and lower-cased names.
fn header(data: &str, name: &str) -> Option<String> {
    let head = data.split("\r\n\r\n").next().unwrap_or(data);
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

#[tokio::test]
async fn a_message_arrives_with_headers_parts_and_bcc_only_in_the_envelope() {
    let Some(smtp) = start_smtp("starttls", &["localhost"]) else {
        return;
    };
    let sent = smtp.outbound().email(&smtp.account(PASSWORD), &email()).await.unwrap();
    assert_eq!(sent.recipients, 4);
    assert!(
        sent.server_reply.starts_with("250 2.0.0 Ok: queued as 1"),
        "{}",
        sent.server_reply
    );

    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m["tls"], true, "the message came over TLS");
    assert_eq!(m["login"], USER);
    assert_eq!(m["mail_from"], "alerts@example.com");
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!([
            "bob@example.com",
            "carol@example.com",
            "dave@example.com",
            "eve-hidden@example.com"
        ])
    );
    let data = m["data"].as_str().unwrap();
    assert_eq!(
        header(data, "From").as_deref(),
        Some("\"Sealbox Alerts\" <alerts@example.com>")
    );
    assert_eq!(
        header(data, "To").as_deref(),
        Some("\"Bob Builder\" <bob@example.com>, carol@example.com")
    );
    assert_eq!(header(data, "Cc").as_deref(), Some("dave@example.com"));
    assert_eq!(header(data, "Subject").as_deref(), Some("Disk almost full on db-1"));
    assert!(
        header(data, "Content-Type")
            .unwrap()
            .starts_with("multipart/alternative"),
        "{data}"
    );
    assert!(data.contains("Content-Type: text/plain; charset=utf-8"), "{data}");
    assert!(data.contains("Content-Type: text/html; charset=utf-8"), "{data}");
    assert!(data.contains("The disk is 91% full.\r\nPlease have a look."), "{data}");
    assert!(data.contains("<p>The disk is <b>91%</b> full.</p>"), "{data}");
    assert!(!data.contains("eve-hidden"), "bcc must not be in the message: {data}");
    assert!(header(data, "Bcc").is_none());

    let commands = smtp.commands();
    let first_auth = commands.iter().position(|c| c == "AUTH").unwrap();
    let starttls = commands.iter().position(|c| c == "STARTTLS").unwrap();
    assert!(starttls < first_auth, "{commands:?}");
    assert_eq!(
        commands[..2],
        ["EHLO", "STARTTLS"],
        "nothing but EHLO before STARTTLS: {commands:?}"
    );
}

#[tokio::test]
async fn a_text_only_message_and_the_action_from_overrides_the_secret() {
    let Some(smtp) = start_smtp("starttls", &["localhost"]) else {
        return;
    };
    let mut e = email();
    e.html = None;
    e.from = Some("ops@example.org".into());
    e.cc.clear();
    e.bcc.clear();
    smtp.outbound().email(&smtp.account(PASSWORD), &e).await.unwrap();
    let m = &smtp.messages()[0];
    assert_eq!(m["mail_from"], "ops@example.org");
    let data = m["data"].as_str().unwrap();
    assert_eq!(header(data, "From").as_deref(), Some("ops@example.org"));
    assert!(
        header(data, "Content-Type").unwrap().starts_with("text/plain"),
        "{data}"
    );
    assert!(!data.contains("text/html"));
}

#[tokio::test]
async fn a_wrong_password_is_the_535_error_without_the_password() {
    let Some(smtp) = start_smtp("starttls", &["localhost"]) else {
        return;
    };
    let wrong = "wrong-pass-9f2c";
    let err = smtp
        .outbound()
        .email(&smtp.account(wrong), &email())
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), "action.smtp_rejected");
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("535"), "{shown}");
    assert!(
        err.to_string()
            .starts_with("the SMTP server localhost rejected the login: 535"),
        "{err}"
    );
    assert!(!shown.contains(wrong), "{shown}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(smtp.messages().is_empty());
    assert!(!smtp.commands().contains(&"MAIL".to_owned()));
}

#[tokio::test]
async fn a_rejected_recipient_is_the_550_error() {
    let Some(smtp) = start_smtp("starttls", &["localhost"]) else {
        return;
    };
    let mut e = email();
    e.cc = vec!["nobody@rejected.test".into()];
    let err = smtp.outbound().email(&smtp.account(PASSWORD), &e).await.err().unwrap();
    assert_eq!(err.code(), "action.smtp_rejected");
    assert_eq!(
        err.to_string(),
        "the SMTP server localhost rejected a recipient: 550 5.1.1 <nobody@rejected.test>: Recipient address rejected"
    );
    assert!(smtp.messages().is_empty(), "no message was sent");
}

#[tokio::test]
async fn a_server_without_starttls_never_sees_the_credentials() {
    let Some(smtp) = start_smtp("plain", &["localhost"]) else {
        return;
    };
    let err = smtp
        .outbound()
        .email(&smtp.account(PASSWORD), &email())
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), "action.starttls_unavailable");
    assert_eq!(
        err.to_string(),
        "the SMTP server localhost does not offer STARTTLS; sealbox sends no credentials and no mail over an unencrypted connection"
    );
    // Give the peer a moment to log the QUIT.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let commands = smtp.commands();
    assert_eq!(commands.first().map(String::as_str), Some("EHLO"), "{commands:?}");
    assert!(
        !commands
            .iter()
            .any(|c| c == "AUTH" || c == "MAIL" || c == "RCPT" || c == "DATA"),
        "{commands:?}"
    );
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn a_certificate_for_another_host_name_is_refused_before_auth() {
    let Some(smtp) = start_smtp("starttls", &["mail.other.test"]) else {
        return;
    };
    let err = smtp
        .outbound()
        .email(&smtp.account(PASSWORD), &email())
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), "action.tls_failed", "{err}");
    assert!(err.to_string().contains("not valid for this host name"), "{err}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let commands = smtp.commands();
    assert!(commands.contains(&"STARTTLS".to_owned()), "{commands:?}");
    assert!(!commands.contains(&"AUTH".to_owned()), "{commands:?}");
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn an_untrusted_ca_is_refused_before_auth() {
    let Some(smtp) = start_smtp("starttls", &["localhost"]) else {
        return;
    };
    // No extra CA: the private CA is not trusted.
    let out = outbound_with(OutboundConfig {
        allow_private_destinations: true,
        ..OutboundConfig::default()
    });
    let err = out.email(&smtp.account(PASSWORD), &email()).await.err().unwrap();
    assert_eq!(err.code(), "action.tls_failed", "{err}");
    assert!(err.to_string().contains("unknown issuer"), "{err}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!smtp.commands().contains(&"AUTH".to_owned()));
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let account = SmtpAccount {
        host: "127.0.0.1".into(),
        port,
        username: Some(USER.into()),
        password: Some(SecretString::from(PASSWORD)),
        from: Some("a@example.com".into()),
    };
    let out = outbound_with(OutboundConfig {
        allow_private_destinations: true,
        ..OutboundConfig::default()
    });
    let err = out.email(&account, &email()).await.err().unwrap();
    assert_eq!(err.code(), "action.connect_failed", "{err}");
    assert!(err.to_string().starts_with("could not connect to 127.0.0.1: "), "{err}");
    assert!(!format!("{err:?}").contains(PASSWORD));
}

#[tokio::test]
async fn what_a_mail_client_shows_matches_what_was_sent() {
    let Some(smtp) = start_smtp("starttls", &["localhost"]) else {
        return;
    };
    let mut e = email();
    e.subject = "Prüfung bestanden ✓ — 100 %".into();
    e.text = "Grüße aus Zürich\n.\nA line with only a dot above, and one starting with a dot:\n.hidden\nend".into();
    e.html = Some("<p>Grüße ✓</p>".into());
    smtp.outbound().email(&smtp.account(PASSWORD), &e).await.unwrap();
    let m = &smtp.messages()[0];
    let parsed = &m["parsed"];
    assert_eq!(parsed["subject"], "Prüfung bestanden ✓ — 100 %");
    assert_eq!(parsed["from"], "Sealbox Alerts <alerts@example.com>");
    assert_eq!(parsed["to"], "Bob Builder <bob@example.com>, carol@example.com");
    assert_eq!(parsed["cc"], "dave@example.com");
    assert_eq!(parsed["bcc"], Value::Null);
    // The dot lines survive SMTP's dot-stuffing; line ends become CRLF on the wire.
    assert_eq!(
        parsed["text"].as_str().unwrap().replace("\r\n", "\n").trim_end(),
        "Grüße aus Zürich\n.\nA line with only a dot above, and one starting with a dot:\n.hidden\nend"
    );
    assert_eq!(parsed["html"].as_str().unwrap().trim_end(), "<p>Grüße ✓</p>");
}

#[tokio::test]
async fn a_line_break_in_the_subject_cannot_add_headers_or_recipients() {
    let Some(smtp) = start_smtp("starttls", &["localhost"]) else {
        return;
    };
    let mut e = email();
    e.subject = "Hello\r\nBcc: injected@evil.test\r\nX-Injected: yes".into();
    e.bcc.clear();
    e.html = None;
    smtp.outbound().email(&smtp.account(PASSWORD), &e).await.unwrap();
    let m = &smtp.messages()[0];
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["bob@example.com", "carol@example.com", "dave@example.com"])
    );
    let names: Vec<&str> = m["parsed"]["header_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(!names.contains(&"bcc") && !names.contains(&"x-injected"), "{names:?}");
    assert!(m["parsed"]["subject"].as_str().unwrap().starts_with("Hello"));
}

#[tokio::test]
async fn a_server_that_never_greets_is_a_timeout() {
    // Accepts the connection and says nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let account = SmtpAccount {
        host: "127.0.0.1".into(),
        port,
        username: Some(USER.into()),
        password: Some(SecretString::from(PASSWORD)),
        from: Some("a@example.com".into()),
    };
    let out = outbound_with(OutboundConfig {
        allow_private_destinations: true,
        timeout: Duration::from_secs(1),
        ..OutboundConfig::default()
    });
    let started = std::time::Instant::now();
    let err = out.email(&account, &email()).await.err().unwrap();
    assert_eq!(err.code(), "action.timeout", "{err}");
    assert_eq!(
        err.to_string(),
        "127.0.0.1 did not answer within 1 s; check the destination or raise --action-timeout-secs"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn an_account_without_username_sends_without_auth_but_still_over_tls() {
    let Some(smtp) = start_smtp("starttls", &["localhost"]) else {
        return;
    };
    let mut account = smtp.account(PASSWORD);
    account.username = None;
    account.password = None;
    // This peer requires AUTH, so the server refuses the sender; what matters is that STARTTLS came first
    // and no AUTH was attempted.
    let err = smtp.outbound().email(&account, &email()).await.err().unwrap();
    assert_eq!(err.code(), "action.smtp_rejected", "{err}");
    assert!(err.to_string().contains("rejected the sender: 530"), "{err}");
    let commands = smtp.commands();
    assert_eq!(commands[..2], ["EHLO", "STARTTLS"], "{commands:?}");
    assert!(!commands.contains(&"AUTH".to_owned()));
}
