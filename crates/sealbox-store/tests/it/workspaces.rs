use sealbox_store::{StoreError, WorkspaceRow};

use crate::fixtures::{audit, head_seq, id, member, token, workspace};
use crate::harness::Db;

conformance!(create_and_duplicate_name, meta_is_set_once);

async fn create_and_duplicate_name(db: Db) {
    let s = &*db.store;
    let row = WorkspaceRow {
        id: id(),
        name: "acme".into(),
        created_at: 1_000,
    };
    let owner = member(&row.id, "owner@example.com", "owner");
    let first_token = token(&row.id, &owner.id, "personal", 1_000);
    s.create_workspace(
        row.clone(),
        owner.clone(),
        Some(first_token.clone()),
        audit(&row.id, "workspace.create", "acme"),
    )
    .await
    .unwrap();

    assert_eq!(s.workspace_by_name("acme").await.unwrap(), Some(row.clone()));
    assert_eq!(s.workspace_by_id(&row.id).await.unwrap(), Some(row.clone()));
    assert_eq!(
        s.member_by_email(&row.id, "owner@example.com").await.unwrap(),
        Some(owner)
    );
    assert_eq!(s.token_by_hash(&first_token.hash).await.unwrap(), Some(first_token));
    assert_eq!(head_seq(s, &row.id).await, 1);
    assert_eq!(s.workspace_by_name("nope").await.unwrap(), None);

    // The same name again: refused, and none of the second workspace's rows are written.
    let again = WorkspaceRow {
        id: id(),
        name: "acme".into(),
        created_at: 2_000,
    };
    let other_owner = member(&again.id, "other@example.com", "owner");
    let other_token = token(&again.id, &other_owner.id, "personal", 2_000);
    let err = s
        .create_workspace(
            again.clone(),
            other_owner.clone(),
            Some(other_token.clone()),
            audit(&again.id, "workspace.create", "acme"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate("workspace_name")), "{err:?}");
    assert_eq!(s.workspace_by_id(&again.id).await.unwrap(), None);
    assert_eq!(s.member_by_id(&other_owner.id).await.unwrap(), None);
    assert_eq!(s.token_by_hash(&other_token.hash).await.unwrap(), None);
    assert_eq!(s.audit_head(&again.id).await.unwrap(), None);
}

async fn meta_is_set_once(db: Db) {
    let s = &*db.store;
    assert_eq!(s.get_meta("root_key_check").await.unwrap(), None);
    assert!(s.put_meta_if_absent("root_key_check", b"first").await.unwrap());
    assert!(!s.put_meta_if_absent("root_key_check", b"second").await.unwrap());
    assert_eq!(s.get_meta("root_key_check").await.unwrap(), Some(b"first".to_vec()));
    let ws = workspace(s, "acme").await;
    assert_eq!(head_seq(s, ws.id()).await, 1, "meta is not audited");
}
