//! `sealbox secret restore`, `purge` and `trash`: the secrets in the trash.

use crate::Ctx;
use crate::output::{self, Table, outln};

/// Brings a secret back from the trash, with its history.
pub async fn restore(ctx: &Ctx, name: &str) -> anyhow::Result<()> {
    let d = ctx.client.restore(name).await?;
    if ctx.json {
        return output::json(&d);
    }
    outln!("restored {} (version {})", d.name, d.version);
    Ok(())
}

/// Deletes a trashed secret for good.
pub async fn purge(ctx: &Ctx, name: &str) -> anyhow::Result<()> {
    ctx.client.purge(name).await?;
    if ctx.json {
        return output::json(&serde_json::json!({ "purged": name }));
    }
    outln!("purged {name} for good");
    Ok(())
}

/// Lists the secrets in the trash.
pub async fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let list = ctx.client.trash().await?;
    if ctx.json {
        return output::json(&list);
    }
    let mut table = Table::new(&["NAME", "TYPE", "VERSION", "DELETED", "PURGED AFTER"]);
    for s in &list.secrets {
        table.row(vec![
            s.name.clone(),
            s.secret_type.as_str().into(),
            s.version.to_string(),
            output::or_dash(s.deleted_at.as_deref()),
            output::or_dash(s.purge_after.as_deref()),
        ]);
    }
    Ok(table.print("the trash is empty")?)
}
