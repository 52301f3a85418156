//! Core use-cases on a real SQLite store with a pinned clock.

// Test code: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod actions;
mod keyring;

use std::sync::Arc;

use sealbox_core::{CoreConfig, ManualClock, Principal, RequestContext, Sealbox};
use sealbox_crypto::{ExposeSecret, RootKey};
use sealbox_store::{SqliteStore, Store};
use sealbox_types::{CreateSecretRequest, SecretType};
use serde_json::json;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

struct Setup {
    core: Sealbox,
    clock: Arc<ManualClock>,
    owner: Principal,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root_key = RootKey::generate(1);
    let chain_key = sealbox_core::audit_chain_key(&root_key);
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("db.sqlite"), chain_key)
            .await
            .unwrap(),
    );
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let core = Sealbox::open(store, root_key, clock.clone(), CoreConfig::default())
        .await
        .unwrap();
    let creds = core.bootstrap("default", "owner@example.com").await.unwrap().unwrap();
    let owner = core.authenticate(creds.token.expose_secret()).await.unwrap();
    Setup {
        core,
        clock,
        owner,
        _dir: dir,
    }
}

fn text(name: &str, value: &str) -> CreateSecretRequest {
    CreateSecretRequest {
        name: name.into(),
        secret_type: SecretType::Text,
        value: json!(value),
        visibility: None,
        description: None,
        metadata: None,
        tags: None,
    }
}

#[tokio::test]
async fn the_trash_is_purged_after_the_retention_period_only() {
    let s = setup().await;
    let ctx = RequestContext::default();
    s.core.create_secret(&s.owner, &ctx, text("OLD", "v")).await.unwrap();
    s.core.create_secret(&s.owner, &ctx, text("RECENT", "v")).await.unwrap();
    s.core.delete_secret(&s.owner, &ctx, "OLD").await.unwrap();
    s.clock.advance_ms(20 * DAY_MS);
    s.core.delete_secret(&s.owner, &ctx, "RECENT").await.unwrap();
    s.clock.advance_ms(10 * DAY_MS + 1);
    assert_eq!(s.core.sweep_trash().await.unwrap(), 1);
    let trash = s.core.list_trash(&s.owner).await.unwrap();
    assert_eq!(trash.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["RECENT"]);
    // The name is free again, and the purge is audited as the system's.
    s.core
        .create_secret(&s.owner, &ctx, text("OLD", "again"))
        .await
        .unwrap();
    let events = s.core.list_audit(&s.owner, Default::default()).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == "secret.purge" && e.actor == "system:trash-retention" && e.target == "secret:OLD")
    );
    assert!(s.core.verify_audit(&s.owner).await.unwrap().ok);
}

#[tokio::test]
async fn session_tokens_expire_with_the_clock() {
    let s = setup().await;
    let ctx = RequestContext::default();
    let added = s
        .core
        .add_member(
            &s.owner,
            &ctx,
            sealbox_types::AddMemberRequest {
                email: "ed@example.com".into(),
                role: sealbox_types::Role::Editor,
                password: None,
            },
        )
        .await
        .unwrap();
    let password = added.password.unwrap();
    let login = s
        .core
        .login(&ctx, "ED@example.com", password.into(), None)
        .await
        .unwrap();
    assert!(s.core.authenticate(&login.token).await.is_ok());
    s.clock.advance_ms(CoreConfig::default().session_ttl_ms);
    assert_eq!(
        s.core.authenticate(&login.token).await.unwrap_err().code,
        "auth.token_expired"
    );
}

#[tokio::test]
async fn last_used_time_and_timestamps_follow_the_clock() {
    let s = setup().await;
    let ctx = RequestContext::default();
    let created = s.core.create_secret(&s.owner, &ctx, text("T", "v")).await.unwrap();
    assert_eq!(created.created_at, "2027-01-15T08:00:00.000Z");
    s.clock.advance_ms(1000);
    let updated = s
        .core
        .update_secret(
            &s.owner,
            &ctx,
            "T",
            sealbox_types::UpdateSecretRequest {
                value: Some(json!("w")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.updated_at, "2027-01-15T08:00:01.000Z");
    assert_eq!(updated.created_at, created.created_at);
}
