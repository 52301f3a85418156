//! Audit is fail-closed: when the event cannot be recorded, the change is refused and nothing of
//! it is written.

use sealbox_store::StoreError;

use crate::fixtures::{audit, head_seq, secret, secrets, update, verify_chain, workspace};
use crate::harness::Db;

conformance!(changes_are_refused_when_audit_fails);

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
    assert_eq!(
        s.append_audit(audit(ws, "secret.reveal", "EXISTING")).await.unwrap(),
        seq + 1
    );
    verify_chain(s, ws).await;
}
