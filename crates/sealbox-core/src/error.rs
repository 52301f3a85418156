//! The domain error: a stable code, a message safe to show the caller, and a class that the HTTP
//! boundary maps to a status. Internal detail goes to the log, never into the message.

use sealbox_types::codes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    Invalid,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    RateLimited,
    /// Well-formed but cannot be done as asked (an action's destination is refused, its secret is
    /// missing or of the wrong type); 422.
    Unprocessable,
    /// A peer the server called for the caller failed (an action's destination timed out, refused
    /// the connection, or rejected the request); 424, since it is not the server that failed.
    FailedDependency,
    /// A dependency (the audit log, the database) is not available; retrying may help.
    Unavailable,
    Internal,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message} ({code})")]
pub struct CoreError {
    pub class: ErrorClass,
    pub code: &'static str,
    pub message: String,
    /// How many seconds the caller should wait before trying again, when that is known (a rate
    /// limit's window, a busy server); sent as `Retry-After`.
    pub retry_after_seconds: Option<u64>,
}

pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    pub fn new(class: ErrorClass, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            class,
            code,
            message: message.into(),
            retry_after_seconds: None,
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Invalid, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorClass::NotFound, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Conflict, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Forbidden, codes::PERMISSION_DENIED, message)
    }

    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Unauthenticated, code, message)
    }

    /// An internal failure. `detail` is logged here, once; the caller only learns that it failed.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            ErrorClass::Internal,
            codes::INTERNAL,
            "internal error; the server log has the details",
        )
    }

    pub fn audit_unavailable(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "audit event could not be recorded; operation refused");
        Self::new(
            ErrorClass::Unavailable,
            codes::AUDIT_UNAVAILABLE,
            "the audit log could not record this operation, so it was refused; nothing was changed",
        )
    }

    /// The database is out of reach. `detail` is logged here, once.
    pub fn store_unavailable(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "the database is unavailable; request refused");
        Self::new(
            ErrorClass::Unavailable,
            codes::STORE_UNAVAILABLE,
            "the database is not reachable at the moment; try again shortly (GET /v1/sys/ready says when it is back)",
        )
    }
}

impl From<sealbox_store::StoreError> for CoreError {
    fn from(e: sealbox_store::StoreError) -> Self {
        match e {
            sealbox_store::StoreError::Audit(detail) => CoreError::audit_unavailable(detail),
            sealbox_store::StoreError::Unavailable(detail) => CoreError::store_unavailable(detail),
            other => CoreError::internal(other),
        }
    }
}
