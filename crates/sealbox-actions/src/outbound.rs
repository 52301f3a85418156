//! [`Outbound`], the sender every action goes through, and its configuration. The senders of
//! each kind (`http.rs`, `email.rs`, `sqs.rs`) add their methods to it.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;

use crate::{ActionError, guard, tls};

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
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: OutboundConfig,
    /// The HTTPS client configuration (webpki roots plus the extra CAs), built once.
    pub(crate) https: rustls::ClientConfig,
    /// The extra CAs, for SMTP's TLS parameters.
    pub(crate) extra_ca: Vec<CertificateDer<'static>>,
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

    /// The guard's answer for a destination, without connecting: resolves and checks every
    /// address (under the timeout) unless private destinations are allowed. A send checks again.
    pub(crate) async fn check_destination(&self, host: &str, port: u16) -> Result<(), ActionError> {
        let config = &self.inner.config;
        if config.allow_private_destinations {
            return Ok(());
        }
        match tokio::time::timeout(config.timeout, guard::resolve_checked(host, port, false)).await {
            Ok(result) => result.map(|_| ()),
            Err(_) => Err(ActionError::Timeout {
                host: host.to_owned(),
                after: config.timeout,
            }),
        }
    }
}

/// The one place this crate reads the wall clock: SigV4 signs the request time (`X-Amz-Date`), and
/// AWS refuses a request more than 5 minutes off. The crate does not depend on sealbox-core's
/// `Clock`; callers that have one use [`Outbound::sqs_at`].
#[allow(clippy::disallowed_methods)] // see above: the crate's one clock read
pub(crate) fn system_now() -> std::time::SystemTime {
    std::time::SystemTime::now()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Email, HttpCall, SmtpAccount, SqsAccount, SqsMessage};
    use secrecy::SecretString;

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
            subject: "".into(),
            text: "".into(),
            html: None,
        };
        send(out.email(&account, &email));
        let sqs = SqsAccount {
            aws_region: "us-east-1".into(),
            queue_url: "https://q".into(),
            access_key_id: "A".into(),
            secret_access_key: SecretString::from("s"),
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

    /// The checks refuse what a send would refuse, and never connect.
    #[tokio::test]
    async fn checks_refuse_what_a_send_would_without_connecting() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let call = |headers: Vec<(String, SecretString)>| HttpCall {
            method: "POST".into(),
            url: format!("http://127.0.0.1:{port}/x").into(),
            headers,
            query: vec![],
            body: Some("b".into()),
        };
        let smtp = SmtpAccount {
            host: " 127.0.0.1 ".into(),
            port,
            username: Some("u".into()),
            password: Some(SecretString::from("p")),
            from: Some("a@example.com".into()),
        };
        let email = Email {
            from: None,
            to: vec!["b@example.com".into()],
            cc: vec![],
            bcc: vec![],
            subject: "s".into(),
            text: "t".into(),
            html: None,
        };
        let sqs = SqsAccount {
            aws_region: "us-east-1".into(),
            queue_url: format!("http://[::ffff:127.0.0.1]:{port}/1/q"),
            access_key_id: "AKID".into(),
            secret_access_key: SecretString::from("s"),
        };
        let message = SqsMessage {
            body: "b".into(),
            attributes: Default::default(),
            delay_seconds: None,
            message_group_id: None,
            message_deduplication_id: None,
        };
        let guarded = Outbound::new(OutboundConfig::default()).unwrap();
        let codes = [
            guarded.check_http(&call(vec![])).await.unwrap_err().code(),
            guarded.check_email(&smtp, &email).await.unwrap_err().code(),
            guarded.check_sqs(&sqs, &message).await.unwrap_err().code(),
        ];
        assert_eq!(codes, ["action.destination_refused"; 3]);
        let bad = call(vec![("X-Id".into(), "a\r\nInjected: 1".into())]);
        assert_eq!(
            guarded.check_http(&bad).await.unwrap_err().code(),
            "action.request_invalid"
        );

        let allowed = Outbound::new(OutboundConfig {
            allow_private_destinations: true,
            ..OutboundConfig::default()
        })
        .unwrap();
        allowed.check_http(&call(vec![])).await.unwrap();
        allowed.check_email(&smtp, &email).await.unwrap();
        allowed.check_sqs(&sqs, &message).await.unwrap();
        let err = listener.accept().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "nothing connected");
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
