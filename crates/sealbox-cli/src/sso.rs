//! `sealbox login --sso`: single sign-on from a terminal, with a loopback redirect (RFC 8252).
//!
//! The terminal listens on 127.0.0.1 on a free port, opens (or prints) the server's
//! `/sso/start` page with that address and the challenge of a fresh verifier, and waits. The
//! server sends the browser through the identity provider and back to it, then on to
//! `http://127.0.0.1:PORT/callback?code=...` with a one-time code, which the terminal trades,
//! with the verifier, for a session (`POST /v1/auth/sso/token`). Someone who sees the code (in
//! the browser's history, say) cannot use it without the verifier, which never left this process.

use std::time::Duration;

use anyhow::Context as _;
use sealbox_client::SsoVerifier;
use sealbox_types::LoginResponse;
use secrecy::SecretString;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::Ctx;

/// How long the terminal waits for the browser.
const WAIT: Duration = Duration::from_secs(300);
const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// A session from a single sign-on in the browser, and the e-mail it signed in.
pub async fn session(
    ctx: &Ctx,
    workspace: Option<&str>,
    open_browser: bool,
) -> anyhow::Result<(LoginResponse, String)> {
    let info = ctx.client.sso_info().await?;
    if !info.enabled {
        anyhow::bail!(
            "{} has no single sign-on; sign in with `sealbox login --email ...`",
            ctx.server.as_str()
        );
    }
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on 127.0.0.1 for the browser to come back")?;
    let port = listener.local_addr()?.port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let verifier = SsoVerifier::generate();
    let url = ctx.client.sso_start_url(workspace, &redirect, &verifier)?;
    eprintln!("sign in with single sign-on in your browser at:\n  {url}");
    if open_browser && !open(url.as_str()) {
        eprintln!("(no browser could be opened here; open the address above yourself)");
    }
    eprintln!(
        "waiting for the browser on {redirect} (up to {} minutes) ...",
        WAIT.as_secs() / 60
    );
    let code = tokio::time::timeout(WAIT, wait_for_code(&listener))
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "no sign-in came back within {} minutes; run `sealbox login --sso` again",
                WAIT.as_secs() / 60
            )
        })??;
    let session = ctx.client.sso_token(&code, &verifier).await?;
    let me = ctx
        .client
        .with_token(Some(SecretString::from(session.token.clone())))?
        .whoami()
        .await?;
    Ok((session, me.name))
}

/// Opens `url` in the desktop's browser; whether a browser command could be started.
fn open(url: &str) -> bool {
    let command = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    std::process::Command::new(command)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// Answers requests on the loopback address until one brings `/callback` with a code (or an
/// error from the server, which ends the wait with it).
async fn wait_for_code(listener: &TcpListener) -> anyhow::Result<String> {
    loop {
        let (mut stream, _) = listener.accept().await?;
        let Some(target) = read_request_target(&mut stream).await else {
            continue;
        };
        let Some(query) = target.strip_prefix("/callback?") else {
            respond(&mut stream, "404 Not Found", "Not the sign-in address.").await;
            continue;
        };
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        if let Some(code) = get("code") {
            respond(
                &mut stream,
                "200 OK",
                "You are signed in. Close this tab and go back to the terminal.",
            )
            .await;
            return Ok(code);
        }
        let message = get("error_description")
            .or_else(|| get("error"))
            .unwrap_or_else(|| "no code".into());
        respond(
            &mut stream,
            "400 Bad Request",
            "The sign-in failed; the terminal says why.",
        )
        .await;
        anyhow::bail!("single sign-on failed: {message}");
    }
}

/// The request target of an HTTP/1 `GET`, or `None` for anything else.
async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 || buf.len() + n > MAX_REQUEST_BYTES {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut first = head.lines().next()?.split(' ');
    match (first.next(), first.next()) {
        (Some("GET"), Some(target)) => Some(target.to_owned()),
        _ => None,
    }
}

async fn respond(stream: &mut TcpStream, status: &str, text: &str) {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sealbox</title></head>\
         <body><p>{text}</p></body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
