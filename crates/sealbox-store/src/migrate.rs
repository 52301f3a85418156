//! Schema migrations: SQL files embedded at build time, applied in order, each in its own
//! transaction and recorded in `schema_migrations`, so running them again is a no-op.

use crate::Result;
use crate::db::{Columns, Dialect, Exec, args};

struct Migration {
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// In order of application. The two databases' files carry the same names.
const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "0001_init",
        sqlite: include_str!("../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        name: "0002_fewer_audit_indexes",
        sqlite: include_str!("../migrations/sqlite/0002_fewer_audit_indexes.sql"),
        postgres: include_str!("../migrations/postgres/0002_fewer_audit_indexes.sql"),
    },
    Migration {
        name: "0003_identities",
        sqlite: include_str!("../migrations/sqlite/0003_identities.sql"),
        postgres: include_str!("../migrations/postgres/0003_identities.sql"),
    },
    Migration {
        name: "0004_actions",
        sqlite: include_str!("../migrations/sqlite/0004_actions.sql"),
        postgres: include_str!("../migrations/postgres/0004_actions.sql"),
    },
    Migration {
        name: "0005_login_attempts",
        sqlite: include_str!("../migrations/sqlite/0005_login_attempts.sql"),
        postgres: include_str!("../migrations/postgres/0005_login_attempts.sql"),
    },
    Migration {
        name: "0006_token_prefix",
        sqlite: include_str!("../migrations/sqlite/0006_token_prefix.sql"),
        postgres: include_str!("../migrations/postgres/0006_token_prefix.sql"),
    },
];

/// Applies the migrations not yet recorded. The caller makes sure no one else migrates the same
/// database at the same time (SQLite: `BEGIN IMMEDIATE` per migration; PostgreSQL: an advisory lock).
pub(crate) async fn run(c: &mut dyn Exec) -> Result<()> {
    c.execute_script(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await?;
    for migration in MIGRATIONS {
        c.execute_script(c.dialect().begin()).await?;
        match apply(c, migration).await {
            Ok(()) => c.execute_script("COMMIT").await?,
            Err(e) => {
                if let Err(rollback) = c.execute_script("ROLLBACK").await {
                    tracing::warn!(error = %rollback, "could not roll back a failed migration");
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

/// The migrations not recorded in `schema_migrations`, in order.
pub(crate) async fn pending(c: &mut dyn Exec) -> Result<Vec<&'static str>> {
    let rows = c.fetch_all("SELECT name FROM schema_migrations", &[]).await?;
    let applied = rows
        .iter()
        .map(|row| row.get::<String>("name"))
        .collect::<Result<std::collections::BTreeSet<_>>>()?;
    Ok(MIGRATIONS
        .iter()
        .map(|m| m.name)
        .filter(|name| !applied.contains(*name))
        .collect())
}

async fn apply(c: &mut dyn Exec, migration: &Migration) -> Result<()> {
    let done = c
        .fetch_all(
            "SELECT name FROM schema_migrations WHERE name = $1",
            args![migration.name],
        )
        .await?;
    if !done.is_empty() {
        return Ok(());
    }
    let dialect = c.dialect();
    c.execute_script(match dialect {
        Dialect::Sqlite => migration.sqlite,
        Dialect::Postgres => migration.postgres,
    })
    .await?;
    let record = format!(
        "INSERT INTO schema_migrations (name, applied_at) VALUES ($1, {})",
        dialect.now_ms()
    );
    c.execute(&record, args![migration.name]).await?;
    tracing::info!(migration = migration.name, "applied database migration");
    Ok(())
}
