//! End-to-end tests of the `sealbox` binary: each test starts a real `sealbox server` on port 0
//! with a temporary data directory and drives it with `sealbox` subcommands.

// Test code: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod actions;
mod audit;
mod audit_file;
mod config;
mod deploy;
mod dotenv;
mod failures;
mod federation;
mod key_rotation;
mod key_sources;
mod login;
mod machines;
mod operator;
mod process;
mod rekey;
mod run;
mod seal;
mod secrets;
mod sso;
mod support;
mod usage;
