//! Exchanging a platform's JWT for a short-lived identity token (`POST /v1/auth/jwt`), for
//! `sealbox login --jwt-file` and `sealbox run --jwt-file`. The JWT is read from a file (the
//! platform writes it there: a Kubernetes projected token, a CI job's), never from an argument,
//! and never printed.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use sealbox_client::Client;
use sealbox_types::{JwtExchangeRequest, JwtExchangeResponse};

use crate::usage;

/// `--jwt-file`, `--identity` and `--workspace` of `sealbox run`.
#[derive(Args, Default)]
pub struct JwtArgs {
    /// Exchange this platform JWT (a file; `-` for stdin) for a short-lived token of --identity
    /// and use that token (instead of SEALBOX_TOKEN or a stored one).
    #[arg(long, env = "SEALBOX_JWT_FILE", value_name = "PATH")]
    pub jwt_file: Option<PathBuf>,
    /// The identity whose trust takes the JWT.
    #[arg(long, env = "SEALBOX_IDENTITY", value_name = "NAME")]
    pub identity: Option<String>,
    /// The identity's workspace (`default` when absent).
    #[arg(long, env = "SEALBOX_WORKSPACE", value_name = "NAME")]
    pub workspace: Option<String>,
}

/// Reads the JWT at `path` and exchanges it for a token of `identity` in `workspace`.
pub async fn exchange(
    client: &Client,
    path: &Path,
    identity: Option<&str>,
    workspace: Option<&str>,
) -> anyhow::Result<JwtExchangeResponse> {
    let Some(identity) = identity else {
        usage!("--jwt-file needs --identity NAME (or SEALBOX_IDENTITY): the identity whose trust takes the JWT");
    };
    let jwt = if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).context("cannot read the JWT from stdin")?;
        text
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read the JWT file {}", path.display()))?
    };
    let jwt = jwt.trim().to_owned();
    if jwt.is_empty() {
        anyhow::bail!("the JWT file {} is empty", path.display());
    }
    let body = JwtExchangeRequest {
        workspace: workspace.unwrap_or("default").to_owned(),
        identity: identity.to_owned(),
        jwt,
    };
    Ok(client.exchange_jwt(&body).await?)
}
