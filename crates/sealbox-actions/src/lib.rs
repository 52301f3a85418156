//! The senders behind actions: an HTTP call, an e-mail through SMTP, a message to SQS.
//!
//! This crate decides nothing about who may do what and knows nothing of where secrets are stored:
//! it gets fully rendered requests (secret values already substituted) and sends them, through
//! one outbound guard ([`guard`]) that resolves a destination once, checks every address and
//! connects only to a checked one. Errors ([`ActionError`]) name the destination and what went
//! wrong, never a value that was sent.

mod email;
mod error;
pub mod guard;
mod http;
pub mod sigv4;
mod sqs;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;

pub use email::{Email, EmailSent, SmtpAccount};
pub use error::ActionError;
pub use http::{HttpCall, HttpReply};
pub use sqs::{SqsAccount, SqsMessage, SqsSent};

/// How outbound calls are made; one per server process.
#[derive(Clone, Debug)]
pub struct OutboundConfig {
    /// Allow loopback, private, link-local, metadata ... destinations (`--allow-private-destinations`).
    pub allow_private_destinations: bool,
    /// The limit for one whole exchange, from name resolution to the last byte (`--action-timeout-secs`).
    pub timeout: Duration,
    /// The largest response body accepted; a larger one is an error (`--action-max-response-bytes`).
    pub max_response_bytes: usize,
    /// PEM certificates trusted besides the webpki roots, for HTTPS and SMTP (`--extra-ca-file`).
    pub extra_ca_pem: Option<Vec<u8>>,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            allow_private_destinations: false,
            timeout: Duration::from_secs(10),
            max_response_bytes: 1024 * 1024,
            extra_ca_pem: None,
        }
    }
}

/// The sender. Cheap to clone; clones share the TLS configuration.
#[derive(Clone)]
pub struct Outbound {
    inner: Arc<Inner>,
}

struct Inner {
    config: OutboundConfig,
    /// The HTTPS client configuration (webpki roots plus the extra CAs), built once.
    https: rustls::ClientConfig,
    /// The extra CAs, for SMTP's TLS parameters.
    extra_ca: Vec<CertificateDer<'static>>,
}

impl Outbound {
    /// Checks the configuration (a bad extra CA file is an [`ActionError::Config`]) and builds the TLS setup.
    pub fn new(config: OutboundConfig) -> Result<Outbound, ActionError> {
        if config.timeout.is_zero() {
            return Err(ActionError::Config(
                "the action timeout must be at least 1 second".into(),
            ));
        }
        if config.max_response_bytes == 0 {
            return Err(ActionError::Config(
                "the action response cap must be at least 1 byte".into(),
            ));
        }
        let extra_ca = match &config.extra_ca_pem {
            Some(pem) => tls::parse_extra_ca(pem)?,
            None => Vec::new(),
        };
        let https = tls::client_config(&extra_ca)?;
        Ok(Outbound {
            inner: Arc::new(Inner {
                config,
                https,
                extra_ca,
            }),
        })
    }

    pub fn config(&self) -> &OutboundConfig {
        &self.inner.config
    }
}

/// The one place this crate reads the wall clock: SigV4 signs the request time (`X-Amz-Date`), and
/// AWS refuses a request more than 5 minutes off. The crate does not depend on sealbox-core's
/// `Clock`; callers that have one use [`Outbound::sqs_at`].
#[allow(clippy::disallowed_methods)] // see above: the crate's one clock read
fn system_now() -> std::time::SystemTime {
    std::time::SystemTime::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync_clone<T: Send + Sync + Clone + 'static>(_: &T) {}
    fn send<T: Send>(_: T) {}

    /// The server keeps one `Outbound` in its state and awaits these futures in axum handlers,
    /// which need them to be `Send`.
    #[test]
    fn outbound_and_its_futures_can_live_in_a_server() {
        let out = Outbound::new(OutboundConfig::default()).unwrap();
        send_sync_clone(&out);
        let call = HttpCall {
            method: "GET".into(),
            url: "https://example.com/".into(),
            headers: vec![],
            query: vec![],
            body: None,
        };
        send(out.http(call));
        let account = SmtpAccount {
            host: "h".into(),
            port: 587,
            username: None,
            password: None,
            from: None,
        };
        let email = Email {
            from: None,
            to: vec![],
            cc: vec![],
            bcc: vec![],
            subject: String::new(),
            text: String::new(),
            html: None,
        };
        send(out.email(&account, &email));
        let sqs = SqsAccount {
            aws_region: "us-east-1".into(),
            queue_url: "https://q".into(),
            access_key_id: "A".into(),
            secret_access_key: secrecy::SecretString::from("s"),
        };
        let message = SqsMessage {
            body: "b".into(),
            attributes: Default::default(),
            delay_seconds: None,
            message_group_id: None,
            message_deduplication_id: None,
        };
        send(out.sqs(&sqs, &message));
    }

    #[test]
    fn a_zero_timeout_or_cap_is_a_config_error() {
        let err = Outbound::new(OutboundConfig {
            timeout: Duration::ZERO,
            ..OutboundConfig::default()
        })
        .err()
        .unwrap();
        assert_eq!(err.code(), "action.config_invalid");
        let err = Outbound::new(OutboundConfig {
            max_response_bytes: 0,
            ..OutboundConfig::default()
        })
        .err()
        .unwrap();
        assert_eq!(err.code(), "action.config_invalid");
        let d = OutboundConfig::default();
        assert_eq!(
            (d.allow_private_destinations, d.timeout, d.max_response_bytes),
            (false, Duration::from_secs(10), 1 << 20)
        );
    }
}
