//! Schema migrations: SQL files embedded at build time, applied in order, each in its own
//! transaction and recorded in `schema_migrations`, so running them again is a no-op.

use crate::db::{Columns, Dialect, Exec, args, fetch};
use crate::{Result, StoreError};

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
    Migration {
        name: "0007_keyring",
        sqlite: include_str!("../migrations/sqlite/0007_keyring.sql"),
        postgres: include_str!("../migrations/postgres/0007_keyring.sql"),
    },
    Migration {
        name: "0008_audit_pending",
        sqlite: include_str!("../migrations/sqlite/0008_audit_pending.sql"),
        postgres: include_str!("../migrations/postgres/0008_audit_pending.sql"),
    },
    Migration {
        name: "0009_token_lifetimes_federation",
        sqlite: include_str!("../migrations/sqlite/0009_token_lifetimes_federation.sql"),
        postgres: include_str!("../migrations/postgres/0009_token_lifetimes_federation.sql"),
    },
    Migration {
        name: "0010_sso",
        sqlite: include_str!("../migrations/sqlite/0010_sso.sql"),
        postgres: include_str!("../migrations/postgres/0010_sso.sql"),
    },
];

/// The `meta` key present from the creation of a database until its first workspace exists: only
/// a database that this key marks is bootstrapped (see [`crate::Store::startup_state`]).
pub(crate) const BOOTSTRAP_PENDING: &str = "bootstrap_pending";

/// The name of the newest migration this build knows.
pub fn schema_version() -> &'static str {
    MIGRATIONS.last().map_or("none", |m| m.name)
}

/// Applies the migrations not yet recorded. The caller makes sure no one else migrates the same
/// database at the same time (SQLite: `BEGIN IMMEDIATE` per migration; PostgreSQL: an advisory lock).
///
/// A database without any recorded migration is new: the transaction of its first migration also
/// marks it [`BOOTSTRAP_PENDING`]. A database that records a migration this build does not know
/// was migrated by a newer Sealbox and is refused (no downgrade).
pub(crate) async fn run(c: &mut dyn Exec) -> Result<()> {
    c.execute_script(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let applied = applied(c).await?;
    if let Some(unknown) = applied
        .iter()
        .find(|name| !MIGRATIONS.iter().any(|m| m.name == name.as_str()))
    {
        return Err(StoreError::Refused(format!(
            "the database was migrated by a newer Sealbox (it has schema migration {unknown}; this Sealbox knows up to {}): \
             run the newer version, or restore a backup taken by this version with `sealbox operator restore`",
            schema_version()
        )));
    }
    let new_database = applied.is_empty();
    for (i, migration) in MIGRATIONS.iter().enumerate() {
        c.execute_script(c.dialect().begin()).await?;
        let mut applied = apply(c, migration).await;
        if new_database && i == 0 && applied.is_ok() {
            applied = c
                .execute(
                    "INSERT INTO meta (key, value) VALUES ($1, $2)",
                    args![BOOTSTRAP_PENDING, &b"1"[..]],
                )
                .await
                .map(drop)
                .map_err(Into::into);
        }
        match applied {
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

/// The names of the migrations recorded in the database.
pub(crate) async fn applied(c: &mut dyn Exec) -> Result<Vec<String>> {
    fetch(c, "SELECT name FROM schema_migrations ORDER BY name", &[], |r| {
        r.get("name")
    })
    .await
}

/// The migrations not recorded in `schema_migrations`, in order.
pub(crate) async fn pending(c: &mut dyn Exec) -> Result<Vec<&'static str>> {
    let applied: std::collections::BTreeSet<String> = applied(c).await?.into_iter().collect();
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
