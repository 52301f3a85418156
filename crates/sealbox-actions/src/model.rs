//! The outbound request and reply model: what an action sends and what comes back, defined once.
//! Core renders into these types and the senders take them as they are.
//!
//! Always compiled and free of I/O (it needs only `secrecy`), so sealbox-core depends on it with
//! the `send` feature off. Every field a rendered definition fills may hold a secret value, so each
//! is a `SecretString`; the account fields come from the account secret (only its credential is
//! secret). Requests, messages and accounts have no `Debug`.

use std::collections::BTreeMap;

use secrecy::SecretString;

/// The methods an HTTP request may use.
pub const HTTP_METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Headers the HTTP sender sets itself: from the URL (`host`), from the body (`content-length`),
/// or that only make sense hop by hop. A request that gives one is refused.
pub const SENDER_HEADERS: [&str; 9] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

/// A fully rendered HTTP request.
pub struct HttpCall {
    /// One of [`HTTP_METHODS`] (case-insensitive).
    pub method: String,
    /// An absolute `http://` or `https://` URL; `query` is appended to its own query.
    pub url: SecretString,
    pub headers: Vec<(String, SecretString)>,
    pub query: Vec<(String, SecretString)>,
    pub body: Option<SecretString>,
}

/// The answer, whatever its status (a 3xx is returned as it is, not followed), before redaction.
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The fields of an `smtp` secret.
pub struct SmtpAccount {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub from: Option<String>,
}

/// One rendered e-mail.
pub struct Email {
    /// Falls back to the account's `from`.
    pub from: Option<SecretString>,
    pub to: Vec<SecretString>,
    pub cc: Vec<SecretString>,
    pub bcc: Vec<SecretString>,
    pub subject: SecretString,
    pub text: SecretString,
    pub html: Option<SecretString>,
}

/// What the SMTP server said once it took the message.
#[derive(Debug, Clone)]
pub struct EmailSent {
    /// Envelope recipients (to + cc + bcc, without duplicates).
    pub recipients: usize,
    /// The reply to the end of DATA, e.g. `250 OK queued as 1234`.
    pub server_reply: String,
}

/// The fields of an `aws_sqs` secret.
pub struct SqsAccount {
    pub aws_region: String,
    pub queue_url: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
}

/// One rendered SQS message.
pub struct SqsMessage {
    pub body: SecretString,
    /// String message attributes.
    pub attributes: BTreeMap<String, SecretString>,
    /// 0 to 900 seconds.
    pub delay_seconds: Option<u32>,
    /// FIFO queues: required there, refused by SQS on standard queues.
    pub message_group_id: Option<SecretString>,
    pub message_deduplication_id: Option<SecretString>,
}

/// What SQS answered.
#[derive(Debug, Clone)]
pub struct SqsSent {
    pub message_id: String,
    pub md5_of_body: Option<String>,
}
