//! The external protectors that wrap and unwrap the root key: AWS KMS ([`AwsKms`]) and a PKCS#11
//! HSM ([`Pkcs11`]).
//!
//! Each one has the same three methods: `wrap` seals the root key's bytes and returns the blob to
//! store in the database, `unwrap` turns such a blob back into the root key (zeroised on drop),
//! and `describe` names the key for messages. The key itself never leaves the KMS or the token.
//!
//! Errors ([`ProtectorError`]) say what is wrong and what to do, and whether retrying can help
//! ([`ProtectorError::is_transient`]). No error, log line or `Debug` output carries the root key,
//! the PIN, the secret access key or the session token.

mod awskms;
mod pkcs11;

pub use awskms::{AwsCredentials, AwsKms, AwsKmsConfig};
pub use pkcs11::{Pkcs11, Pkcs11Config};

/// Why a protector could not wrap or unwrap. The message is meant for the operator as it is.
#[derive(Debug, thiserror::Error)]
pub enum ProtectorError {
    /// Worth retrying: unreachable, timeout, 5xx, throttling, token not present.
    #[error("{0}")]
    Unavailable(String),
    /// Will not get better by retrying: key disabled / not found / access denied / wrong PIN /
    /// blob not decryptable by this key / no key with that label / library cannot be loaded.
    #[error("{0}")]
    Refused(String),
}

impl ProtectorError {
    /// Whether the same call may succeed later (the server keeps retrying at start).
    pub fn is_transient(&self) -> bool {
        matches!(self, ProtectorError::Unavailable(_))
    }
}

/// The innermost cause of an error, for messages ("connection refused", not reqwest's wrapper).
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// At most `max` characters of a message from outside, on one line.
fn shorten(text: &str, max: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server holds protectors in shared state and awaits them on any thread.
    #[allow(dead_code)]
    fn protectors_and_their_futures_are_send_and_sync(kms: &AwsKms, hsm: &Pkcs11) {
        fn shared<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: T) {}
        shared(kms);
        shared(hsm);
        send(kms.wrap(b""));
        send(kms.unwrap(b""));
        send(hsm.wrap(b""));
        send(hsm.unwrap(b""));
    }

    #[test]
    fn only_unavailable_is_transient() {
        assert!(ProtectorError::Unavailable("x".into()).is_transient());
        assert!(!ProtectorError::Refused("x".into()).is_transient());
    }

    #[test]
    fn shorten_keeps_one_line_and_cuts_long_text() {
        assert_eq!(shorten("a\n  b", 10), "a b");
        assert_eq!(shorten("abcdef", 3), "abc...");
    }
}
