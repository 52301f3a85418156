//! Single sign-on: a workspace's rules (audited, replaced whole) and the sign-ins in progress,
//! each taken exactly once, across replicas too, and never after it expired.

use std::sync::Arc;

use sealbox_store::{SsoLoginRow, SsoSettingsRow, Store};

use crate::fixtures::{audit, head_seq, workspace};
use crate::harness::Db;

conformance!(
    settings_are_stored_with_their_event,
    a_sign_in_is_taken_once_and_not_after_it_expired,
    concurrent_takes_from_two_replicas_get_it_once,
);

fn login(workspace_id: &str, id: &[u8], expires_at: i64) -> SsoLoginRow {
    SsoLoginRow {
        id: id.to_vec(),
        workspace_id: workspace_id.to_owned(),
        stage: "started".into(),
        cli_redirect: None,
        cli_challenge: None,
        member_id: None,
        detail: "{}".into(),
        expires_at,
    }
}

async fn settings_are_stored_with_their_event(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    assert_eq!(s.sso_settings(acme.id()).await.unwrap(), None);
    let before = head_seq(s, acme.id()).await;
    let row = SsoSettingsRow {
        password_sign_in: false,
        create_members: Some("editor".into()),
        group_roles: r#"{"ops":"admin"}"#.into(),
        updated_at: 7,
        ..SsoSettingsRow::defaults(acme.id())
    };
    s.put_sso_settings(row.clone(), audit(acme.id(), "workspace.sso_update", "workspace:acme"))
        .await
        .unwrap();
    assert_eq!(s.sso_settings(acme.id()).await.unwrap(), Some(row.clone()));
    assert_eq!(head_seq(s, acme.id()).await, before + 1);
    let again = SsoSettingsRow {
        password_sign_in: true,
        create_members: None,
        ..row
    };
    s.put_sso_settings(
        again.clone(),
        audit(acme.id(), "workspace.sso_update", "workspace:acme"),
    )
    .await
    .unwrap();
    assert_eq!(s.sso_settings(acme.id()).await.unwrap(), Some(again));
}

async fn a_sign_in_is_taken_once_and_not_after_it_expired(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    s.insert_sso_login(login(acme.id(), b"state-1", 1_000), 0)
        .await
        .unwrap();
    assert_eq!(
        s.take_sso_login(b"state-1", "signed_in", 10).await.unwrap(),
        None,
        "another stage"
    );
    let taken = s.take_sso_login(b"state-1", "started", 10).await.unwrap().unwrap();
    assert_eq!(taken.workspace_id, acme.id());
    assert_eq!(s.take_sso_login(b"state-1", "started", 10).await.unwrap(), None, "once");

    s.insert_sso_login(login(acme.id(), b"state-2", 1_000), 0)
        .await
        .unwrap();
    assert_eq!(
        s.take_sso_login(b"state-2", "started", 1_001).await.unwrap(),
        None,
        "expired"
    );
    // A later sign-in deletes the expired ones it finds.
    s.insert_sso_login(login(acme.id(), b"state-3", 1_000), 0)
        .await
        .unwrap();
    s.insert_sso_login(login(acme.id(), b"state-4", 5_000), 2_000)
        .await
        .unwrap();
    assert_eq!(
        s.take_sso_login(b"state-3", "started", 0).await.unwrap(),
        None,
        "deleted"
    );
    assert!(s.take_sso_login(b"state-4", "started", 2_000).await.unwrap().is_some());
}

/// 20 takes of one sign-in at once, half through a second store on the same database: one wins.
async fn concurrent_takes_from_two_replicas_get_it_once(db: Db) {
    let acme = workspace(&*db.store, "acme").await;
    db.store
        .insert_sso_login(login(acme.id(), b"contested", 1_000), 0)
        .await
        .unwrap();
    let stores: [Arc<dyn Store>; 2] = [db.store.clone(), db.open_again().await];
    let takes = (0..20).map(|i| {
        let store = stores[i % 2].clone();
        tokio::spawn(async move { store.take_sso_login(b"contested", "started", 10).await.unwrap() })
    });
    let mut won = 0;
    for take in takes {
        won += usize::from(take.await.unwrap().is_some());
    }
    assert_eq!(won, 1);
}
