//! `sealbox token ...`: the caller's personal access tokens.

use clap::Subcommand;
use sealbox_types::CreateTokenRequest;

use crate::Ctx;
use crate::input;
use crate::output::{self, Table, outln};

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a personal access token; prints it once.
    Create {
        name: String,
        /// Lifetime such as 1y, 30d, 12h, 15m or 3600s (60s to 10y); no expiry when absent.
        #[arg(long)]
        ttl: Option<String>,
    },
    /// List your personal access tokens.
    List,
    /// Revoke one of your tokens by its id, or by the token itself (e.g. one that leaked).
    #[command(
        long_about = "Revoke one of your tokens; it stops working on the next request. Give its id (the \
        ID column of `sealbox token list`) or the token itself, sbx_... (or `-` to read it from stdin), \
        e.g. one that leaked: it is sent in the request body, never in a URL. A token that is not a \
        live token of yours is \"not found\", whoever's it is."
    )]
    Revoke {
        #[arg(value_name = "ID|TOKEN")]
        token: String,
    },
}

pub async fn token(ctx: &Ctx, cmd: TokenCommand) -> anyhow::Result<()> {
    let client = &ctx.client;
    match cmd {
        TokenCommand::Create { name, ttl } => {
            let expires_in_seconds = ttl.as_deref().map(input::parse_ttl).transpose()?;
            let created = client
                .create_token(&CreateTokenRequest {
                    name,
                    expires_in_seconds,
                })
                .await?;
            if ctx.json {
                return output::json(&created);
            }
            let info = &created.info;
            eprintln!(
                "created token {} (id {}, expires {}); shown this once:",
                info.name,
                info.id,
                info.expires_at.as_deref().unwrap_or("never")
            );
            outln!("{}", created.token);
            Ok(())
        }
        TokenCommand::List => {
            let list = client.list_tokens().await?;
            if ctx.json {
                return output::json(&list);
            }
            let mut table = Table::new(&["ID", "NAME", "STARTS WITH", "CREATED", "EXPIRES", "LAST USED"]);
            for t in &list.tokens {
                table.row(vec![
                    t.id.clone(),
                    t.name.clone(),
                    shown_prefix(t),
                    t.created_at.clone(),
                    shown_expiry(t),
                    t.last_used_at.clone().unwrap_or_else(|| "never".into()),
                ]);
            }
            Ok(table.print("no tokens")?)
        }
        TokenCommand::Revoke { token } => {
            let revoked = match input::parse_token_ref(&token)? {
                input::TokenRef::Id(id) => {
                    client.revoke_token(&id).await?;
                    id
                }
                input::TokenRef::Value(token) => {
                    client.revoke_token_by_value(&token).await?;
                    input::token_label(&token)
                }
            };
            if ctx.json {
                return output::json(&serde_json::json!({ "revoked": revoked }));
            }
            outln!("revoked token {revoked}");
            Ok(())
        }
    }
}

/// `sbx_` and the token's stored first characters, or `-` for a token made before they were kept.
pub fn shown_prefix(t: &sealbox_types::TokenInfo) -> String {
    t.prefix
        .as_deref()
        .map_or_else(|| "-".to_owned(), |p| format!("sbx_{p}..."))
}

/// When the token expires, marked `(expired)` or `(expires soon)` (within 7 days).
pub fn shown_expiry(t: &sealbox_types::TokenInfo) -> String {
    let at = t.expires_at.clone().unwrap_or_else(|| "never".into());
    match t.state {
        sealbox_types::TokenState::Expired => format!("{at} (expired)"),
        sealbox_types::TokenState::Expiring => format!("{at} (expires soon)"),
        sealbox_types::TokenState::Active => at,
    }
}
