//! The senders behind actions: an HTTP call, an e-mail through SMTP, a message to SQS.
//!
//! This crate decides nothing about who may do what and knows nothing of where secrets are stored:
//! it gets fully rendered requests ([`model`], secret values already substituted) and sends them,
//! through one outbound guard ([`guard`]) that resolves a destination once, checks every address
//! and connects only to a checked one. Errors ([`ActionError`]) name the destination and what went
//! wrong, never a value that was sent.
//!
//! [`model`] is always compiled and does no I/O; the senders are behind the default `send`
//! feature, which sealbox-core (which renders into the model) turns off.

pub mod model;

#[cfg(feature = "send")]
mod email;
#[cfg(feature = "send")]
mod error;
#[cfg(feature = "send")]
pub mod guard;
#[cfg(feature = "send")]
mod http;
#[cfg(feature = "send")]
mod outbound;
#[cfg(feature = "send")]
pub mod sigv4;
#[cfg(feature = "send")]
mod sqs;
#[cfg(feature = "send")]
mod tls;

#[cfg(feature = "send")]
pub use error::ActionError;
pub use model::{Email, EmailSent, HttpCall, HttpReply, SmtpAccount, SqsAccount, SqsMessage, SqsSent};
#[cfg(feature = "send")]
pub use outbound::{Outbound, OutboundConfig};

/// The HTTPS client configuration the senders use (TLS 1.2 and 1.3, the webpki roots plus the
/// PEM certificates of `--extra-ca-file`), for the server's other outbound HTTPS (JWT issuers'
/// keys), so both trust the same roots.
#[cfg(feature = "send")]
pub fn https_client_config(extra_ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, ActionError> {
    let extra = match extra_ca_pem {
        Some(pem) => tls::parse_extra_ca(pem)?,
        None => Vec::new(),
    };
    tls::client_config(&extra)
}
