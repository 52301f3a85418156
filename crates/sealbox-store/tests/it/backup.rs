//! Issue 11: a backup is a consistent snapshot of every table, restores into an empty database
//! of either kind exactly as it was taken, and a tampered file is refused naming what is wrong.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sealbox_store::{Backup, BackupError, SqliteStore, Store, StoreError};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::fixtures::{
    audit, chain_key, identity, identity_token, member, policy, secrets, update, verify_chain, workspace,
};
use crate::harness::{Db, drop_schema, isolated_schema, postgres_admin_url};

conformance!(
    a_restore_holds_every_row_as_it_was_backed_up,
    a_target_holding_data_is_refused,
    a_tampered_backup_is_refused,
    a_backup_under_write_load_holds_every_acknowledged_write,
    a_file_from_before_the_keyring_restores_with_an_empty_keyring,
);

/// A backup file written before the keyring table existed (no `keyring` section, the trailer
/// right after `audit_events`) still parses, verifies and restores.
async fn a_file_from_before_the_keyring_restores_with_an_empty_keyring(db: Db) {
    let s = &*db.store;
    fill(s).await;
    let text = String::from_utf8(s.backup(7).await.unwrap().to_bytes()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let keyring_start = lines
        .iter()
        .position(|l| l.starts_with(r#"{"table":"keyring""#) || l.contains(r#""table":"keyring""#))
        .expect("a keyring section");
    let trailer = lines[lines.len() - 1];
    let old_format = lines[..keyring_start].join("\n") + "\n" + trailer + "\n";
    let old_file = reseal(&old_format);
    let parsed = Backup::parse(&old_file).unwrap();
    let counts: std::collections::BTreeMap<_, _> = parsed.counts().into_iter().collect();
    assert_eq!((counts["keyring"], counts["secret_versions"]), (0, 3));
    // Cutting the keyring section out without resealing is still caught by the checksum.
    assert!(matches!(
        Backup::parse(old_format.as_bytes()),
        Err(BackupError::Checksum(_))
    ));
    for (target, pg, _dir) in empty_targets().await {
        target.restore(parsed.clone()).await.unwrap();
        assert!(target.keyring().await.unwrap().is_empty());
        if let Some((admin, url)) = pg {
            drop_schema(&admin, &url).await;
        }
    }
}

/// Fills `s` with one of everything: members, identities with variables and tokens, policies,
/// actions, secrets with several versions, one in the trash.
async fn fill(s: &dyn Store) -> String {
    let acme = workspace(s, "acme").await;
    let ws = acme.id().to_owned();
    s.insert_member(
        member(&ws, "editor@example.com", "editor"),
        audit(&ws, "member.add", "m"),
    )
    .await
    .unwrap();
    let bot = identity(&ws, "payments-worker", r#"{"team":"payments"}"#);
    s.insert_identity(bot.clone(), audit(&ws, "identity.create", "i"))
        .await
        .unwrap();
    s.set_identity_env(&ws, &bot.id, "LOG_LEVEL", "debug", audit(&ws, "identity.env_set", "i"))
        .await
        .unwrap();
    s.insert_token(
        identity_token(&ws, &bot.id, 1_000),
        audit(&ws, "identity.token_create", "t"),
    )
    .await
    .unwrap();
    s.insert_policy(policy(&ws, "payments"), audit(&ws, "policy.create", "p"))
        .await
        .unwrap();
    s.insert_federation(
        crate::federations::trust(&ws, &bot.id, "https://token.actions.githubusercontent.com", 1_500),
        audit(&ws, "identity.federate", "i"),
    )
    .await
    .unwrap();
    s.set_token_settings(
        sealbox_store::TokenSettingsRow {
            workspace_id: ws.clone(),
            default_token_ttl_seconds: None,
            max_token_ttl_seconds: Some(86_400),
            updated_at: 1_600,
            updated_by: "member:owner@example.com".into(),
        },
        audit(&ws, "workspace.settings_update", "w"),
    )
    .await
    .unwrap();
    let rows = secrets(s, &ws, &["API_KEY", "OLD"]).await;
    s.update_secret(
        update(&rows[0], 1, "second", true),
        audit(&ws, "secret.update", "API_KEY"),
    )
    .await
    .unwrap();
    s.set_secret_trashed(
        &ws,
        &rows[1].id,
        Some((3_000, "member:owner@example.com".into())),
        audit(&ws, "secret.delete", "OLD"),
    )
    .await
    .unwrap();
    let sso = sealbox_store::SsoSettingsRow {
        password_sign_in: false,
        create_members: Some("editor".into()),
        group_roles: r#"{"ops":"admin"}"#.into(),
        updated_at: 4_000,
        ..sealbox_store::SsoSettingsRow::defaults(&ws)
    };
    s.put_sso_settings(sso, audit(&ws, "workspace.sso_update", "w"))
        .await
        .unwrap();
    workspace(s, "globex").await;
    for version in [1, 2] {
        assert!(s.add_active_kek(kek_row(version)).await.unwrap());
    }
    ws
}

fn kek_row(version: i64) -> sealbox_store::KeyringRow {
    sealbox_store::KeyringRow {
        version,
        wrapped_kek: vec![version as u8; 61],
        created_at: 5_000 + version,
        state: sealbox_store::KEYRING_ACTIVE.into(),
    }
}

/// Fresh, empty targets: SQLite, and PostgreSQL when configured. Each with what to clean up.
async fn empty_targets() -> Vec<(Arc<dyn Store>, Option<(String, String)>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("restored.db"), chain_key())
            .await
            .unwrap(),
    );
    let mut targets = vec![(sqlite, None, dir)];
    if let Some(admin) = postgres_admin_url() {
        let url = isolated_schema(&admin).await;
        let pg: Arc<dyn Store> = Arc::new(sealbox_store::PostgresStore::connect(&url, chain_key()).await.unwrap());
        targets.push((pg, Some((admin, url)), tempfile::tempdir().unwrap()));
    }
    targets
}

async fn a_restore_holds_every_row_as_it_was_backed_up(db: Db) {
    let s = &*db.store;
    let ws = fill(s).await;
    let backup = s.backup(42_000).await.unwrap();
    assert_eq!(backup.header.source, s.kind());
    assert_eq!(backup.header.schema, sealbox_store::schema_version());
    let counts: std::collections::BTreeMap<_, _> = backup.counts().into_iter().collect();
    assert_eq!(counts["workspaces"], 2);
    assert_eq!(counts["secret_versions"], 3);
    assert_eq!(counts["identity_env"], 1);
    assert_eq!(counts["keyring"], 2, "the backup carries the keyring");
    assert_eq!(
        (counts["identity_federations"], counts["workspace_token_settings"]),
        (1, 1)
    );
    assert_eq!(counts["sso_settings"], 1, "and the single sign-on rules");
    let mut names = backup.workspaces();
    names.sort();
    assert_eq!(names, ["acme", "globex"]);
    let file = backup.to_bytes();
    let parsed = Backup::parse(&file).unwrap();
    assert_eq!(parsed, backup);
    assert_eq!(parsed.check_chains(Some(&chain_key())).unwrap().events, 14);
    for (target, pg, _dir) in empty_targets().await {
        target.restore(parsed.clone()).await.unwrap();
        let mut again = target.backup(42_000).await.unwrap();
        again.header.source = backup.header.source.clone();
        assert_eq!(again, backup, "restored into {}", target.kind());
        verify_chain(&*target, &ws).await;
        let secret = target.secret_with_version(&ws, "API_KEY", None).await.unwrap().unwrap();
        assert_eq!(
            secret.1.unwrap().ciphertext,
            crate::fixtures::version(&secret.0.id, 2).ciphertext
        );
        // A restored database is not new: a start never bootstraps it.
        let state = target.startup_state().await.unwrap();
        assert!(!state.bootstrap_pending && state.broken_chains.is_empty() && state.workspaces == 2);
        if let Some((admin, url)) = pg {
            drop_schema(&admin, &url).await;
        }
    }
}

async fn a_target_holding_data_is_refused(db: Db) {
    let s = &*db.store;
    fill(s).await;
    let backup = s.backup(1).await.unwrap();
    let err = s.restore(backup.clone()).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Refused(m) if m.contains("already holds data (workspaces: acme, globex)")),
        "{err:?}"
    );
    // Nothing was written: the chains are as they were.
    assert_eq!(s.backup(1).await.unwrap(), backup);
}

/// Rewrites the section checksums and the trailer of a JSON-lines backup, as someone who knows
/// the format (but not the root key) could.
fn reseal(text: &str) -> Vec<u8> {
    let mut out = String::new();
    let mut section = Sha256::new();
    let mut rows = 0;
    for line in text.lines() {
        let value: Value = serde_json::from_str(line).unwrap();
        if value.is_array() {
            section.update(format!("{line}\n"));
            rows += 1;
        } else if let Some(table) = value["end"].as_str() {
            let sum = hex::encode(std::mem::take(&mut section).finalize());
            out.push_str(&format!("{}\n", json!({"end": table, "rows": rows, "sha256": sum})));
            rows = 0;
            continue;
        } else if value.get("sha256").is_some() {
            let sum = hex::encode(Sha256::digest(out.as_bytes()));
            out.push_str(&format!("{}\n", json!({ "sha256": sum })));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}

/// The lines of `file`, with the first line after `{"table": table, ...}` for which `pick` is
/// true replaced by `change(line)` (or removed when it gives `None`).
fn edit(file: &[u8], table: &str, pick: impl Fn(&Value) -> bool, change: impl Fn(Value) -> Option<Value>) -> String {
    let mut out = String::new();
    let mut in_table = false;
    let mut done = false;
    for line in std::str::from_utf8(file).unwrap().lines() {
        let value: Value = serde_json::from_str(line).unwrap();
        if value.get("table").is_some() {
            in_table = value["table"] == table;
        }
        if in_table && !done && value.is_array() && pick(&value) {
            done = true;
            if let Some(changed) = change(value) {
                out.push_str(&format!("{changed}\n"));
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    assert!(done, "no {table} line to edit");
    out
}

async fn a_tampered_backup_is_refused(db: Db) {
    let s = &*db.store;
    fill(s).await;
    let file = s.backup(1).await.unwrap().to_bytes();

    // One byte of one ciphertext.
    let flipped = edit(
        &file,
        "secret_versions",
        |_| true,
        |mut row| {
            let mut bytes = STANDARD.decode(row[2]["b64"].as_str().unwrap()).unwrap();
            bytes[0] ^= 1;
            row[2] = json!({ "b64": STANDARD.encode(bytes) });
            Some(row)
        },
    );
    let err = Backup::parse(flipped.as_bytes()).unwrap_err();
    assert!(matches!(err, BackupError::Checksum(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "checksum mismatch: the secret_versions section; the file was changed or damaged"
    );
    // (Ciphertexts are not in the audit chain: with the checksums written again, such a change
    // shows only when the value is opened, which the AEAD refuses.)

    // One audit event removed.
    let removed = edit(&file, "audit_events", |row| row[1] == 2, |_| None);
    let err = Backup::parse(removed.as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .contains("the audit_events section says 14 rows but holds 13"),
        "{err}"
    );
    // Removed by someone who also rewrote the checksums: the chain has a gap.
    let resealed = Backup::parse(&reseal(&removed)).unwrap();
    let err = resealed.check_chains(None).unwrap_err();
    assert!(
        err.to_string().contains("event 2 is missing (the next event is 3)"),
        "{err}"
    );

    // An event edited and the file resealed: only the root key's chain key finds it.
    let edited = edit(
        &file,
        "audit_events",
        |row| row[1] == 2,
        |mut row| {
            row[3] = json!("member:someone-else@example.com");
            Some(row)
        },
    );
    let resealed = Backup::parse(&reseal(&edited)).unwrap();
    assert!(
        resealed.check_chains(None).is_ok(),
        "without the key the links still hold"
    );
    let err = resealed.check_chains(Some(&chain_key())).unwrap_err();
    assert!(err.to_string().contains("event 2 was changed"), "{err}");

    // A file cut short, and one that is not a backup.
    let err = Backup::parse(&file[..file.len() / 2]).unwrap_err();
    assert!(matches!(err, BackupError::Format(_)), "{err:?}");
    let err = Backup::parse(b"{\"hello\": 1}\n").unwrap_err();
    assert!(err.to_string().contains("not a Sealbox backup header"), "{err}");
    let newer = String::from_utf8(file.clone())
        .unwrap()
        .replacen("\"sealbox_backup\":1", "\"sealbox_backup\":2", 1);
    let err = Backup::parse(newer.as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .contains("format version 2; this Sealbox reads version 1"),
        "{err}"
    );
}

/// Creates and updates run at full speed while the backup is taken: every write acknowledged
/// before the backup began is in it, and its chains verify.
async fn a_backup_under_write_load_holds_every_acknowledged_write(db: Db) {
    let s = db.store.clone();
    let acme = workspace(&*s, "acme").await;
    let ws = acme.id().to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let writer = {
        let (s, ws, stop, acknowledged) = (s.clone(), ws.clone(), stop.clone(), acknowledged.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("S{n}");
                let row = secrets(&*s, &ws, &[&name]).await.remove(0);
                s.update_secret(update(&row, 1, "updated", true), audit(&ws, "secret.update", &name))
                    .await
                    .unwrap();
                acknowledged.lock().unwrap().push(name);
                n += 1;
            }
        })
    };
    while acknowledged.lock().unwrap().len() < 20 {
        tokio::task::yield_now().await;
    }
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let backup = s.backup(1).await.unwrap();
    while acknowledged.lock().unwrap().len() < before.len() + 20 {
        tokio::task::yield_now().await;
    }
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let backup = Backup::parse(&backup.to_bytes()).unwrap();
    backup.check_chains(Some(&chain_key())).unwrap();
    for (target, pg, _dir) in empty_targets().await {
        target.restore(backup.clone()).await.unwrap();
        verify_chain(&*target, &ws).await;
        for name in &before {
            let (row, version) = target.secret_with_version(&ws, name, None).await.unwrap().unwrap();
            assert_eq!(row.current_version, 2, "{name}");
            assert_eq!(
                version.unwrap().ciphertext,
                crate::fixtures::version(&row.id, 2).ciphertext
            );
        }
        if let Some((admin, url)) = pg {
            drop_schema(&admin, &url).await;
        }
    }
}
