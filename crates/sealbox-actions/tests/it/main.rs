//! sealbox-actions' integration tests, against real local peers: an HTTP(S) server written here,
//! aiosmtpd (STARTTLS + AUTH) and moto (SQS), the last two started as Python subprocesses.

// Test code: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod email;
mod guard;
mod http;
mod sqs;
mod support;
