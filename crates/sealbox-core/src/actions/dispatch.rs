//! The port actions go out through: core hands fully rendered requests to a [`Dispatcher`] (the
//! server's senders) once it has decided everything else.
//!
//! The requests and replies are sealbox-actions' model (`sealbox_actions::model`, compiled
//! without the senders), named here as the port has always named them; the server passes them
//! to its senders as they are.

use async_trait::async_trait;
use sealbox_types::codes;

pub use sealbox_actions::model::{
    Email as EmailMessage, EmailSent, HttpCall as HttpRequest, HttpReply as HttpResponse, SmtpAccount, SqsAccount,
    SqsMessage, SqsSent,
};

use super::redact::{Redactor, peer_text};
use crate::error::{CoreError, ErrorClass};

/// Why the dispatcher did not deliver. `message` must be safe to show (no value, password,
/// header, body or query string); core redacts it once more anyway.
#[derive(Debug, Clone)]
pub struct DispatchError {
    /// A stable dotted code such as `action.destination_refused`.
    pub code: &'static str,
    pub message: String,
    pub failure: DispatchFailure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispatchFailure {
    /// The server refused to send (destination not allowed, request invalid): 422.
    Refused,
    /// The destination failed (unreachable, timed out, rejected the request): 424.
    Peer,
}

/// Sends rendered requests. The server implements it with its outbound senders; core decides
/// everything else (who may, what is sent, what comes back).
///
/// The `check_*` methods run before any use of a value is recorded: they refuse what the sender
/// would refuse anyway (a destination the guard does not allow, a request it cannot build), so
/// a refused run records no `secret.use`. They send nothing; the send itself checks again (and
/// connects only to the addresses it checked then).
#[async_trait]
pub trait Dispatcher: Send + Sync + 'static {
    async fn check_http(&self, _request: &HttpRequest) -> Result<(), DispatchError> {
        Ok(())
    }
    async fn check_email(&self, _account: &SmtpAccount, _message: &EmailMessage) -> Result<(), DispatchError> {
        Ok(())
    }
    async fn check_sqs(&self, _account: &SqsAccount, _message: &SqsMessage) -> Result<(), DispatchError> {
        Ok(())
    }
    async fn http(&self, request: HttpRequest) -> Result<HttpResponse, DispatchError>;
    async fn email(&self, account: SmtpAccount, message: EmailMessage) -> Result<EmailSent, DispatchError>;
    async fn sqs(&self, account: SqsAccount, message: SqsMessage) -> Result<SqsSent, DispatchError>;
}

/// What a run gets when the server was started without senders.
pub(super) fn unavailable() -> DispatchError {
    DispatchError {
        code: codes::ACTION_UNAVAILABLE,
        message: "this server cannot send actions".into(),
        failure: DispatchFailure::Peer,
    }
}

/// A sender's refusal or failure as core's error, its message redacted once more.
pub(super) fn dispatch_failure(e: DispatchError, redactor: &Redactor) -> CoreError {
    let class = match e.failure {
        DispatchFailure::Refused => ErrorClass::Unprocessable,
        DispatchFailure::Peer => ErrorClass::FailedDependency,
    };
    CoreError::new(class, e.code, peer_text(redactor, &e.message))
}
