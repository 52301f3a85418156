//! Workspace token lifetimes and identities' trusts in JWT issuers (issue 14).

use sealbox_store::{FederationRow, StoreError, TokenSettingsRow};

use crate::fixtures::{audit, head_seq, id, identity_token, stored_identity, workspace};
use crate::harness::Db;

conformance!(
    token_settings_are_set_and_replaced_with_their_event,
    trusts_belong_to_an_identity_of_the_workspace,
    expired_exchanged_tokens_are_deleted
);

pub fn trust(workspace_id: &str, identity_id: &str, issuer: &str, created_at: i64) -> FederationRow {
    FederationRow {
        id: id(),
        workspace_id: workspace_id.into(),
        identity_id: identity_id.into(),
        issuer: issuer.into(),
        audience: "sealbox".into(),
        claims: r#"{"sub":"repo:acme/*"}"#.into(),
        ttl_seconds: Some(900),
        static_keys: None,
        created_at,
        created_by: "member:owner@example.com".into(),
    }
}

async fn token_settings_are_set_and_replaced_with_their_event(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let other = workspace(s, "globex").await;
    assert_eq!(s.token_settings(acme.id()).await.unwrap(), None);
    let seq = head_seq(s, acme.id()).await;
    let first = TokenSettingsRow {
        workspace_id: acme.id().into(),
        default_token_ttl_seconds: Some(2_592_000),
        max_token_ttl_seconds: Some(7_776_000),
        updated_at: 1_000,
        updated_by: "member:owner@example.com".into(),
    };
    s.set_token_settings(first.clone(), audit(acme.id(), "workspace.settings_update", "w"))
        .await
        .unwrap();
    assert_eq!(s.token_settings(acme.id()).await.unwrap(), Some(first.clone()));
    let second = TokenSettingsRow {
        default_token_ttl_seconds: None,
        updated_at: 2_000,
        ..first
    };
    s.set_token_settings(second.clone(), audit(acme.id(), "workspace.settings_update", "w"))
        .await
        .unwrap();
    assert_eq!(s.token_settings(acme.id()).await.unwrap(), Some(second));
    assert_eq!(head_seq(s, acme.id()).await, seq + 2, "each change with its event");
    assert_eq!(s.token_settings(other.id()).await.unwrap(), None, "per workspace");
}

async fn trusts_belong_to_an_identity_of_the_workspace(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let globex = workspace(s, "globex").await;
    let worker = stored_identity(s, acme.id(), "worker").await;
    let theirs = stored_identity(s, globex.id(), "worker").await;
    let older = trust(acme.id(), &worker.id, "https://gitlab.com", 1_000);
    let newer = FederationRow {
        static_keys: Some(r#"{"keys":[]}"#.into()),
        ttl_seconds: None,
        ..trust(
            acme.id(),
            &worker.id,
            "https://token.actions.githubusercontent.com",
            2_000,
        )
    };
    for t in [&newer, &older] {
        s.insert_federation(t.clone(), audit(acme.id(), "identity.federate", "i"))
            .await
            .unwrap();
    }
    // An identity of another workspace cannot be given a trust here.
    let seq = head_seq(s, acme.id()).await;
    let err = s
        .insert_federation(
            trust(acme.id(), &theirs.id, "https://x", 3_000),
            audit(acme.id(), "identity.federate", "i"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(head_seq(s, acme.id()).await, seq, "nothing written");
    assert_eq!(
        s.list_federations(acme.id(), &worker.id).await.unwrap(),
        [older.clone(), newer.clone()],
        "oldest first"
    );
    assert!(s.list_federations(globex.id(), &worker.id).await.unwrap().is_empty());
    // Removed only as the identity's, in its workspace.
    let err = s
        .delete_federation(
            globex.id(),
            &worker.id,
            &older.id,
            audit(globex.id(), "identity.federation_remove", "i"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    s.delete_federation(
        acme.id(),
        &worker.id,
        &older.id,
        audit(acme.id(), "identity.federation_remove", "i"),
    )
    .await
    .unwrap();
    assert_eq!(
        s.list_federations(acme.id(), &worker.id).await.unwrap(),
        std::slice::from_ref(&newer)
    );
    // In the backup; and gone with the identity.
    let backup = s.backup(9_000).await.unwrap();
    let counts: std::collections::BTreeMap<_, _> = backup.counts().into_iter().collect();
    assert_eq!(counts["identity_federations"], 1);
    s.delete_identity(acme.id(), &worker.id, audit(acme.id(), "identity.delete", "i"))
        .await
        .unwrap();
    assert!(s.list_federations(acme.id(), &worker.id).await.unwrap().is_empty());
}

async fn expired_exchanged_tokens_are_deleted(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let worker = stored_identity(s, acme.id(), "worker").await;
    let exchanged = |expires_at| sealbox_store::TokenRow {
        kind: "federated".into(),
        expires_at: Some(expires_at),
        ..identity_token(acme.id(), &worker.id, 1_000)
    };
    let (old, recent) = (exchanged(5_000), exchanged(50_000));
    let lasting = sealbox_store::TokenRow {
        expires_at: Some(5_000),
        ..identity_token(acme.id(), &worker.id, 1_000)
    };
    for t in [&old, &recent, &lasting] {
        s.insert_token(t.clone(), audit(acme.id(), "auth.jwt_exchange", "i"))
            .await
            .unwrap();
    }
    assert_eq!(s.delete_expired_tokens("federated", 10_000).await.unwrap(), 1);
    let left: Vec<String> = s
        .list_identity_tokens(acme.id(), &worker.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(
        left.contains(&recent.id) && left.contains(&lasting.id),
        "only the old exchanged one went"
    );
}
