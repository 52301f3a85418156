//! The one error type of the crate. Every message is safe to show: it names the destination host
//! and what went wrong, never a secret value, a password, a header value, a body or a query string.

use std::net::IpAddr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The destination resolves to an address the guard refuses.
    #[error(
        "destination {host} refused: it resolves to {reason} ({addr}); start the server with --allow-private-destinations to allow it"
    )]
    DestinationRefused {
        host: String,
        addr: IpAddr,
        reason: &'static str,
    },

    /// The host name did not resolve.
    #[error("could not resolve the host name {host}; check it is spelled right and exists")]
    Resolve { host: String },

    /// No TCP connection (refused, unreachable, reset before an answer).
    #[error("could not connect to {host}: {detail}; check the host and port")]
    Connect { host: String, detail: String },

    /// The whole exchange took longer than the configured timeout.
    #[error("{host} did not answer within {} s; check the destination or raise --action-timeout-secs", .after.as_secs_f64())]
    Timeout { host: String, after: Duration },

    /// The response body is larger than the configured cap (it is an error, not a truncation).
    #[error("the response from {host} is larger than {limit} bytes; raise --action-max-response-bytes to accept it")]
    ResponseTooLarge { host: String, limit: usize },

    /// TLS failed: the certificate is not trusted, not valid for the host name, or the handshake failed.
    #[error("TLS with {host} failed: {detail}; check the server's certificate or trust its CA with --extra-ca-file")]
    Tls { host: String, detail: String },

    /// The SMTP server does not offer STARTTLS; nothing (no credentials, no mail) was sent.
    #[error(
        "the SMTP server {host} does not offer STARTTLS; sealbox sends no credentials and no mail over an unencrypted connection"
    )]
    StartTlsUnavailable { host: String },

    /// The SMTP server answered a command with an error (code and the server's text, credentials removed).
    #[error("the SMTP server {host} rejected {stage}: {text}")]
    SmtpRejected {
        host: String,
        stage: &'static str,
        code: Option<u16>,
        text: String,
    },

    /// SQS answered with an error.
    #[error("SQS refused the message ({status}): {code}: {message}")]
    Sqs { status: u16, code: String, message: String },

    /// The request itself is not valid (URL, method, header name, e-mail address ...).
    #[error("{0}")]
    Invalid(String),

    /// The outbound configuration is not valid (for example the extra CA file).
    #[error("{0}")]
    Config(String),
}

impl ActionError {
    /// A stable dotted code for the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            ActionError::DestinationRefused { .. } => "action.destination_refused",
            // a name that does not resolve is a kind of connection failure for the caller
            ActionError::Resolve { .. } => "action.connect_failed",
            ActionError::Connect { .. } => "action.connect_failed",
            ActionError::Timeout { .. } => "action.timeout",
            ActionError::ResponseTooLarge { .. } => "action.response_too_large",
            ActionError::Tls { .. } => "action.tls_failed",
            ActionError::StartTlsUnavailable { .. } => "action.starttls_unavailable",
            ActionError::SmtpRejected { .. } => "action.smtp_rejected",
            ActionError::Sqs { .. } => "action.sqs_failed",
            ActionError::Invalid(_) => "action.request_invalid",
            ActionError::Config(_) => "action.config_invalid",
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        ActionError::Invalid(message.into())
    }
}

/// Finds a TLS failure anywhere in an error's source chain. `io::Error::source` skips the error it
/// wraps, so wrapped errors are looked at through `get_ref` as well.
pub(crate) fn tls_cause(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(describe_tls(tls));
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(found) = tls_cause(inner)
        {
            return Some(found);
        }
        current = err.source();
    }
    None
}

fn describe_tls(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
        | rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext { .. }) => {
            "the certificate is not valid for this host name".to_owned()
        }
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
            "the certificate is signed by an unknown issuer".to_owned()
        }
        rustls::Error::InvalidCertificate(rustls::CertificateError::Expired)
        | rustls::Error::InvalidCertificate(rustls::CertificateError::ExpiredContext { .. }) => {
            "the certificate has expired".to_owned()
        }
        other => other.to_string(),
    }
}

/// The innermost message of an error chain (for connection failures: "Connection refused (os error 111)").
/// Only used on errors that carry no request data (the URL is stripped before).
pub(crate) fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    loop {
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            current = inner;
            continue;
        }
        match current.source() {
            Some(next) => current = next,
            None => return current.to_string(),
        }
    }
}
