//! Audit is fail-closed: when the event cannot be recorded, the change is refused and nothing of
//! it is written.

use sealbox_store::StoreError;

use crate::fixtures::{
    audit, head_seq, identity, identity_token, policy, secret, secrets, stored_identity, update, verify_chain,
    workspace,
};
use crate::harness::Db;

conformance!(
    changes_are_refused_when_audit_fails,
    identity_changes_are_refused_when_audit_fails
);

async fn changes_are_refused_when_audit_fails(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let ws = acme.id();
    let row = secrets(s, ws, &["EXISTING"]).await.remove(0);
    let seq = head_seq(s, ws).await;
    db.set_audit_offline(true).await;

    let (new, first) = secret(ws, "NEW", "text");
    let err = s
        .insert_secret(new.clone(), first, audit(ws, "secret.create", "NEW"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Audit(m) if m.contains("audit offline")),
        "{err:?}"
    );
    assert_eq!(s.secret_by_name(ws, "NEW").await.unwrap(), None);
    assert_eq!(s.secret_version(&new.id, 1).await.unwrap(), None);

    let err = s
        .update_secret(update(&row, 1, "changed", true), audit(ws, "secret.update", "EXISTING"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Audit(_)), "{err:?}");
    let stored = s.secret_by_name(ws, "EXISTING").await.unwrap().unwrap();
    assert_eq!(stored, row);
    assert_eq!(s.secret_version(&row.id, 2).await.unwrap(), None);

    let err = s
        .append_audit(audit(ws, "secret.reveal", "EXISTING"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Audit(_)), "{err:?}");
    assert_eq!(head_seq(s, ws).await, seq);

    // Back online, the chain goes on from where it was.
    db.set_audit_offline(false).await;
    s.append_audit(audit(ws, "secret.reveal", "EXISTING")).await.unwrap();
    assert_eq!(head_seq(s, ws).await, seq + 1);
    verify_chain(s, ws).await;
}

async fn identity_changes_are_refused_when_audit_fails(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let ws = acme.id();
    let worker = stored_identity(s, ws, "payments-worker").await;
    s.set_identity_env(ws, &worker.id, "LOG_LEVEL", "debug", audit(ws, "identity.env", "x"))
        .await
        .unwrap();
    let machine = identity_token(ws, &worker.id, 1_000);
    s.insert_token(machine.clone(), audit(ws, "identity.token.create", "x"))
        .await
        .unwrap();
    let seq = head_seq(s, ws).await;
    db.set_audit_offline(true).await;
    let refused = |err: StoreError| assert!(matches!(err, StoreError::Audit(_)), "{err:?}");

    let new = identity(ws, "agent", "{}");
    refused(
        s.insert_identity(new, audit(ws, "identity.create", "x"))
            .await
            .unwrap_err(),
    );
    assert_eq!(s.identity_by_name(ws, "agent").await.unwrap(), None);
    refused(
        s.set_identity_tags(ws, &worker.id, r#"{"team":"billing"}"#, audit(ws, "identity.tag", "x"))
            .await
            .unwrap_err(),
    );
    refused(
        s.set_identity_env(ws, &worker.id, "LOG_LEVEL", "trace", audit(ws, "identity.env", "x"))
            .await
            .unwrap_err(),
    );
    refused(
        s.unset_identity_env(ws, &worker.id, "LOG_LEVEL", audit(ws, "identity.env", "x"))
            .await
            .unwrap_err(),
    );
    refused(
        s.revoke_identity_token(
            ws,
            &worker.id,
            &machine.id,
            2_000,
            audit(ws, "identity.token.revoke", "x"),
        )
        .await
        .unwrap_err(),
    );
    refused(
        s.delete_identity(ws, &worker.id, audit(ws, "identity.delete", "x"))
            .await
            .unwrap_err(),
    );
    let read = policy(ws, "payments-read");
    refused(
        s.insert_policy(read, audit(ws, "policy.create", "x"))
            .await
            .unwrap_err(),
    );
    refused(
        s.append_audits(vec![audit(ws, "secret.read", "A"), audit(ws, "secret.read", "B")])
            .await
            .unwrap_err(),
    );

    // Nothing of any of it was written.
    assert_eq!(
        s.identity_by_name(ws, "payments-worker").await.unwrap(),
        Some(worker.clone())
    );
    assert_eq!(
        s.identity_env(&worker.id).await.unwrap(),
        [("LOG_LEVEL".to_owned(), "debug".to_owned())]
    );
    assert_eq!(
        s.token_with_identity(&machine.hash).await.unwrap(),
        Some((machine, worker, acme.row.clone()))
    );
    assert!(s.list_policies(ws).await.unwrap().is_empty());
    assert_eq!(head_seq(s, ws).await, seq);

    db.set_audit_offline(false).await;
    verify_chain(s, ws).await;
}
