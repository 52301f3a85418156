//! The benchmark's baseline: a bare axum server whose `GET /` answers 64 bytes.
//!
//! Usage: `sealbox-bench-baseline 127.0.0.1:0`. Prints `listening on http://ADDR` once it accepts.
//! It runs on the same multi-threaded tokio runtime as Sealbox, so the ratio of Sealbox's
//! requests per second to this one's measures what Sealbox's own work costs.

use std::process::ExitCode;

use axum::Router;
use axum::routing::get;

/// 64 bytes, the size of the secret value the benchmark reads back.
const BODY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[tokio::main]
async fn main() -> ExitCode {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(local) => println!("listening on http://{local}"),
        Err(e) => {
            eprintln!("cannot read the bound address: {e}");
            return ExitCode::FAILURE;
        }
    }
    let app = Router::new().route("/", get(|| async { BODY }));
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("server error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
