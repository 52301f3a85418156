//! Saved action definitions: one name per workspace, every change audited in its transaction.

use sealbox_store::{ActionRow, ActionUpdate, StoreError};

use crate::fixtures::{audit, head_seq, id, verify_chain, workspace};
use crate::harness::Db;

conformance!(action_lifecycle, a_refused_audit_event_leaves_actions_unchanged);

fn action(workspace_id: &str, name: &str, kind: &str) -> ActionRow {
    ActionRow {
        id: id(),
        workspace_id: workspace_id.into(),
        name: name.into(),
        kind: kind.into(),
        spec: format!(r#"{{"kind":"{kind}","url":"https://api.example.com/{{secrets.TOKEN}}"}}"#),
        created_at: 1_000,
        created_by: "member:owner@example.com".into(),
        updated_at: 1_000,
        updated_by: "member:owner@example.com".into(),
    }
}

fn names(rows: &[ActionRow]) -> Vec<&str> {
    rows.iter().map(|r| r.name.as_str()).collect()
}

async fn action_lifecycle(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let other = workspace(s, "other").await;
    let ws = acme.id();
    let seq = head_seq(s, ws).await;

    let notify = action(ws, "notify", "http");
    let mail = action(ws, "Mail-alerts", "email");
    for a in [&notify, &mail] {
        s.insert_action(a.clone(), audit(ws, "action.create", &format!("action:{}", a.name)))
            .await
            .unwrap();
    }
    assert_eq!(head_seq(s, ws).await, seq + 2);

    // The name is taken in this workspace, and free in another.
    let err = s
        .insert_action(action(ws, "notify", "sqs"), audit(ws, "action.create", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate("action_name")), "{err:?}");
    assert_eq!(head_seq(s, ws).await, seq + 2, "a refused change appends nothing");
    let theirs = action(other.id(), "notify", "sqs");
    s.insert_action(theirs.clone(), audit(other.id(), "action.create", "x"))
        .await
        .unwrap();
    // An action is recorded in the workspace its audit record names.
    let err = s
        .insert_action(
            action(ws, "mismatched", "http"),
            audit(other.id(), "action.create", "x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Audit(_)), "{err:?}");

    // Stored as given, listed by name (byte order on both databases).
    assert_eq!(s.action_by_name(ws, "notify").await.unwrap(), Some(notify.clone()));
    assert_eq!(
        s.action_by_name(other.id(), "notify").await.unwrap(),
        Some(theirs.clone())
    );
    assert_eq!(s.action_by_name(ws, "nothing").await.unwrap(), None);
    assert_eq!(names(&s.list_actions(ws).await.unwrap()), ["Mail-alerts", "notify"]);
    assert_eq!(s.list_actions(other.id()).await.unwrap(), std::slice::from_ref(&theirs));

    // Updating replaces kind and spec and records who changed it; only in its own workspace.
    let update = |workspace_id: &str, action_id: &str| ActionUpdate {
        workspace_id: workspace_id.into(),
        action_id: action_id.into(),
        kind: "sqs".into(),
        spec: r#"{"kind":"sqs"}"#.into(),
        updated_at: 2_000,
        updated_by: "member:admin@example.com".into(),
    };
    let seq = head_seq(s, ws).await;
    s.update_action(update(ws, &notify.id), audit(ws, "action.update", "action:notify"))
        .await
        .unwrap();
    let changed = s.action_by_name(ws, "notify").await.unwrap().unwrap();
    assert_eq!(
        changed,
        ActionRow {
            kind: "sqs".into(),
            spec: r#"{"kind":"sqs"}"#.into(),
            updated_at: 2_000,
            updated_by: "member:admin@example.com".into(),
            ..notify.clone()
        }
    );
    for (in_ws, action_id) in [(ws, "no-such-action"), (ws, theirs.id.as_str())] {
        let err = s
            .update_action(update(in_ws, action_id), audit(in_ws, "action.update", "x"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
    }
    assert_eq!(
        s.action_by_name(other.id(), "notify").await.unwrap(),
        Some(theirs.clone())
    );
    assert_eq!(head_seq(s, ws).await, seq + 1);

    // Deleting: only in its own workspace, once.
    let err = s
        .delete_action(ws, &theirs.id, audit(ws, "action.delete", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    s.delete_action(ws, &notify.id, audit(ws, "action.delete", "action:notify"))
        .await
        .unwrap();
    let err = s
        .delete_action(ws, &notify.id, audit(ws, "action.delete", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(names(&s.list_actions(ws).await.unwrap()), ["Mail-alerts"]);
    assert_eq!(s.list_actions(other.id()).await.unwrap(), [theirs]);
    assert_eq!(head_seq(s, ws).await, seq + 2);
    // The freed name can be used again.
    s.insert_action(
        action(ws, "notify", "http"),
        audit(ws, "action.create", "action:notify"),
    )
    .await
    .unwrap();
    verify_chain(s, ws).await;
    verify_chain(s, other.id()).await;
}

async fn a_refused_audit_event_leaves_actions_unchanged(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let ws = acme.id();
    let notify = action(ws, "notify", "http");
    s.insert_action(notify.clone(), audit(ws, "action.create", "action:notify"))
        .await
        .unwrap();
    db.set_audit_offline(true).await;
    let seq = head_seq(s, ws).await;
    let err = s
        .insert_action(action(ws, "other", "http"), audit(ws, "action.create", "action:other"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Audit(_)), "{err:?}");
    let update = ActionUpdate {
        workspace_id: ws.into(),
        action_id: notify.id.clone(),
        kind: "email".into(),
        spec: "{}".into(),
        updated_at: 5_000,
        updated_by: "member:x@example.com".into(),
    };
    let err = s
        .update_action(update, audit(ws, "action.update", "action:notify"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Audit(_)), "{err:?}");
    let err = s
        .delete_action(ws, &notify.id, audit(ws, "action.delete", "action:notify"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Audit(_)), "{err:?}");
    assert_eq!(s.list_actions(ws).await.unwrap(), [notify]);
    assert_eq!(head_seq(s, ws).await, seq);
}
