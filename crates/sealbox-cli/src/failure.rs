//! How a failed command ends: one line on stderr (or, with `--json`, the API's error shape) and
//! an exit code that tells the class of failure apart.
//!
//! | exit | class | codes |
//! |---|---|---|
//! | 1 | any other failure (invalid input, rate limited, a broken audit chain, a local file) | the server's, or `cli.error` |
//! | 2 | usage: the command line is wrong | `cli.usage` |
//! | 3 | not found | the server's `*.not_found` |
//! | 4 | unauthenticated or forbidden (no token, a bad one, not allowed) | the server's `auth.*`, `permission.denied`, ... |
//! | 5 | conflict | the server's (`secret.version_conflict`, `*.exists`, ...) |
//! | 6 | the server cannot be reached | `cli.unreachable` |
//! | 7 | the server failed (5xx) or did not answer as a sealbox server | the server's, or `cli.bad_answer` |
//! | 126, 127 | `sealbox run`: the program cannot be executed, or is not found | `cli.program_not_executable`, `cli.program_not_found` |

use std::io;

use sealbox_client::ClientError;
use sealbox_types::{ErrorBody, ErrorDetail, codes};

use crate::UsageError;
use crate::credentials::TokenSource;

pub const EXIT_OTHER: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_NOT_FOUND: u8 = 3;
pub const EXIT_DENIED: u8 = 4;
pub const EXIT_CONFLICT: u8 = 5;
pub const EXIT_UNREACHABLE: u8 = 6;
pub const EXIT_SERVER: u8 = 7;
pub const EXIT_NOT_EXECUTABLE: u8 = 126;
pub const EXIT_NOT_FOUND_PROGRAM: u8 = 127;

/// A failure as it is reported: exit code, stable code and one message.
#[derive(Debug)]
pub struct Failure {
    pub exit: u8,
    pub code: String,
    pub message: String,
    pub request_id: String,
}

impl Failure {
    fn client(exit: u8, code: &str, message: String) -> Failure {
        Failure {
            exit,
            code: code.to_owned(),
            message,
            request_id: String::new(),
        }
    }

    /// A command-line mistake (clap's or ours).
    pub fn usage(message: String) -> Failure {
        Failure::client(EXIT_USAGE, "cli.usage", message)
    }

    /// Prints the failure: `error: message (code)` or, with `--json`, the API's error shape.
    pub fn print(&self, json: bool) {
        if json {
            let body = ErrorBody {
                error: ErrorDetail {
                    code: self.code.clone(),
                    message: self.message.clone(),
                    request_id: self.request_id.clone(),
                },
            };
            match serde_json::to_string(&body) {
                Ok(text) => eprintln!("{text}"),
                Err(_) => eprintln!("error: {}", self.message),
            }
        } else if self.code.starts_with("cli.") {
            eprintln!("error: {}", self.message);
        } else {
            eprintln!("error: {} ({})", self.message, self.code);
        }
    }
}

/// `sealbox run` could not start the program.
#[derive(Debug)]
pub struct ProgramNotStarted {
    pub program: String,
    pub source: io::Error,
}

impl std::fmt::Display for ProgramNotStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let program = &self.program;
        match self.source.kind() {
            io::ErrorKind::NotFound => write!(f, "{program}: command not found (not a file, nor in PATH)"),
            io::ErrorKind::PermissionDenied => write!(f, "{program}: permission denied (not executable)"),
            _ => write!(f, "cannot start {program:?}: {}", self.source),
        }
    }
}

impl std::error::Error for ProgramNotStarted {}

/// Sorts an error into its class. `addr` is the server address, for messages about reaching it;
/// `token` where the command's token came from, for messages about a refused or missing one.
pub fn classify(e: &anyhow::Error, addr: &str, token: &TokenSource) -> Failure {
    for cause in e.chain() {
        if let Some(usage) = cause.downcast_ref::<UsageError>() {
            return Failure::usage(usage.0.clone());
        }
        if let Some(p) = cause.downcast_ref::<ProgramNotStarted>() {
            let (exit, code) = match p.source.kind() {
                io::ErrorKind::NotFound => (EXIT_NOT_FOUND_PROGRAM, "cli.program_not_found"),
                _ => (EXIT_NOT_EXECUTABLE, "cli.program_not_executable"),
            };
            return Failure::client(exit, code, p.to_string());
        }
        if let Some(c) = cause.downcast_ref::<ClientError>() {
            return client_failure(c, e, addr, token);
        }
    }
    Failure::client(EXIT_OTHER, "cli.error", format!("{e:#}"))
}

fn client_failure(c: &ClientError, whole: &anyhow::Error, addr: &str, token: &TokenSource) -> Failure {
    let check_addr = "check SEALBOX_ADDR (or --addr)";
    match c {
        ClientError::Api {
            status,
            code,
            request_id,
            ..
        } => {
            let exit = match status {
                404 => EXIT_NOT_FOUND,
                401 | 403 => EXIT_DENIED,
                409 => EXIT_CONFLICT,
                500.. => EXIT_SERVER,
                _ => EXIT_OTHER,
            };
            let message = if code == codes::AUTH_MISSING_TOKEN {
                format!(
                    "not signed in to {addr}: run `sealbox login --email ...` (it keeps the token for \
                     this server), or set SEALBOX_TOKEN to a token (`sealbox token create` makes a \
                     lasting one)"
                )
            } else if let (Some(why), TokenSource::Stored { email, .. }) = (stored_token_refused(code), token) {
                // A session from `login --jwt-file` is kept as `identity:NAME`.
                let again = match email.strip_prefix("identity:") {
                    Some(identity) => format!("sealbox login --jwt-file PATH --identity {identity}"),
                    None => format!("sealbox login --email {email}"),
                };
                format!("the session `sealbox login` stored for {addr} {why}; sign in again with `{again}`")
            } else {
                // Context the command added (e.g. which file) stays in front of the server's words.
                let text = format!("{whole:#}");
                text.strip_suffix(&format!(" ({code})")).unwrap_or(&text).to_owned()
            };
            Failure {
                exit,
                code: code.clone(),
                message,
                request_id: request_id.clone(),
            }
        }
        ClientError::UnexpectedStatus { status, request_id } => Failure {
            exit: EXIT_SERVER,
            code: "cli.bad_answer".into(),
            message: format!(
                "the server at {addr} answered {status} without a sealbox error; is it a sealbox server? {check_addr}"
            ),
            request_id: request_id.clone(),
        },
        ClientError::Decode { status, .. } => Failure::client(
            EXIT_SERVER,
            "cli.bad_answer",
            format!(
                "the server at {addr} answered {status} with something sealbox cannot read; is it a sealbox server (of this version)? {check_addr}"
            ),
        ),
        ClientError::InvalidAddress { .. } => Failure::usage(format!(
            "{c}; set SEALBOX_ADDR (or --addr) to e.g. {}",
            crate::DEFAULT_ADDR
        )),
        ClientError::InvalidArgument(_) => Failure::usage(c.to_string()),
        ClientError::InvalidToken => Failure::client(
            EXIT_DENIED,
            "cli.token_invalid",
            "SEALBOX_TOKEN holds characters that cannot be sent; set it to a token (sbx_...)".into(),
        ),
        ClientError::Transport(t) => Failure::client(EXIT_UNREACHABLE, "cli.unreachable", unreachable(t, addr)),
    }
}

/// Why the server refused a token, for the codes a stored session meets when it ends.
fn stored_token_refused(code: &str) -> Option<&'static str> {
    match code {
        codes::AUTH_TOKEN_EXPIRED => Some("has expired"),
        codes::AUTH_TOKEN_REVOKED => Some("was revoked (signed out elsewhere, or by an admin)"),
        codes::AUTH_INVALID_TOKEN => Some("is not known to this server"),
        _ => None,
    }
}

/// One line about why the server could not be reached and what to check, instead of the
/// transport's chain of errors.
fn unreachable(e: &(dyn std::error::Error + 'static), addr: &str) -> String {
    let (mut refused, mut tls, mut timeout, mut connect) = (false, false, false, false);
    let mut source = Some(e);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            refused |= io.kind() == io::ErrorKind::ConnectionRefused;
            timeout |= io.kind() == io::ErrorKind::TimedOut;
        }
        let text = cause.to_string().to_ascii_lowercase();
        tls |= ["tls", "certificate", "corrupt message", "handshake"]
            .iter()
            .any(|w| text.contains(w));
        timeout |= text.contains("timed out");
        connect |= text.contains("connect") || text.contains("dns");
        source = cause.source();
    }
    let why = if refused {
        "nothing is listening there (connection refused)".to_owned()
    } else if tls && addr.starts_with("https://") {
        "the TLS handshake failed (if the server serves plain HTTP, use http://; if its certificate \
         is from a private CA, the system must trust it)"
            .to_owned()
    } else if timeout {
        "it did not answer in time".to_owned()
    } else if connect {
        "the connection failed (is the host name right?)".to_owned()
    } else if addr.starts_with("http://") {
        "the connection closed without an answer (if the server serves HTTPS, use https://)".to_owned()
    } else {
        "the connection closed without an answer".to_owned()
    };
    format!("cannot reach the sealbox server at {addr}: {why}; check SEALBOX_ADDR (or --addr)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: &str) -> anyhow::Error {
        ClientError::Api {
            status: 401,
            code: code.to_owned(),
            message: "the server's words".to_owned(),
            request_id: "req-1".to_owned(),
        }
        .into()
    }

    fn stored() -> TokenSource {
        TokenSource::Stored {
            file: "/home/u/.config/sealbox/credentials.json".into(),
            email: "ana@example.com".into(),
            expires_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn an_ended_identity_session_says_to_exchange_a_jwt_again() {
        let token = TokenSource::Stored {
            file: "/home/u/.config/sealbox/credentials.json".into(),
            email: "identity:ci-deploy".into(),
            expires_at: "2026-01-01T00:00:00Z".into(),
        };
        let failure = classify(&refused(codes::AUTH_TOKEN_EXPIRED), "http://127.0.0.1:8270", &token);
        assert!(
            failure
                .message
                .ends_with("sign in again with `sealbox login --jwt-file PATH --identity ci-deploy`"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn an_ended_stored_session_says_to_sign_in_again() {
        let addr = "http://127.0.0.1:8270";
        for (code, why) in [
            (codes::AUTH_TOKEN_EXPIRED, "has expired"),
            (codes::AUTH_TOKEN_REVOKED, "was revoked"),
            (codes::AUTH_INVALID_TOKEN, "is not known to this server"),
        ] {
            let failure = classify(&refused(code), addr, &stored());
            assert_eq!(failure.exit, EXIT_DENIED, "{code}");
            assert_eq!(failure.code, code);
            assert!(failure.message.contains(why), "{failure:?}");
            assert!(
                failure.message.contains("sealbox login --email ana@example.com"),
                "{failure:?}"
            );
            assert_eq!(failure.request_id, "req-1");
            // A token from SEALBOX_TOKEN keeps the server's words: the CLI did not store it.
            let from_env = classify(&refused(code), addr, &TokenSource::Env);
            assert_eq!(from_env.message, "the server's words", "{from_env:?}");
            assert_eq!(from_env.exit, EXIT_DENIED);
        }
        // Other refusals of a stored token are the server's.
        let denied = classify(&refused(codes::PERMISSION_DENIED), addr, &stored());
        assert_eq!(denied.message, "the server's words");
    }
}
