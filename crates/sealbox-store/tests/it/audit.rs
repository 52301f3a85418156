use sealbox_store::{AuditFilter, AuditRecord};

use sealbox_store::StoreError;

use crate::fixtures::{
    all, audit, head_seq, identity, identity_token, member, policy, secret, token, update, verify_chain, workspace,
};
use crate::harness::Db;

conformance!(
    every_change_appends_one_event,
    chains_are_per_workspace,
    audit_heads_name_every_workspace_and_its_last_seq,
    one_chain_across_store_instances,
    list_filters_and_paging,
    append_audits_in_order,
    append_audits_is_all_or_nothing,
    a_read_of_several_secrets_is_one_event_found_by_each_secret,
    pending_events_are_sealed_by_the_next_audit_read_unless_forged,
);

/// Issue 13: an event left in `audit_pending` (a PostgreSQL change's, or one a restored backup
/// held) joins its chain at the next audit read, after the events before it; one whose MAC does
/// not match is never sealed and stays listed as pending.
async fn pending_events_are_sealed_by_the_next_audit_read_unless_forged(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let ws = acme.id();
    s.append_audit(audit(ws, "login", "first")).await.unwrap();
    let waiting = audit(ws, "secret.reveal", "secret:WAITING");
    db.insert_pending(
        &waiting,
        &sealbox_store::pending_mac(&crate::fixtures::chain_key(), &waiting),
    )
    .await;
    let forged = audit(ws, "secret.reveal", "secret:FORGED");
    db.insert_pending(&forged, &[0; 32]).await;

    let events = verify_chain(s, ws).await;
    let targets: Vec<&str> = events.iter().map(|e| e.record.target.as_str()).collect();
    assert_eq!(targets[1..], ["first", "secret:WAITING"]);
    assert_eq!(events.last().unwrap().record, waiting);
    let pending = s.pending_audit(ws).await.unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].record, forged);
    // New events go on after it; the forged one stays out of the chain.
    s.append_audit(audit(ws, "login", "after")).await.unwrap();
    assert_eq!(verify_chain(s, ws).await.len(), 4);
    assert_eq!(s.pending_audit(ws).await.unwrap().len(), 1);
}

async fn a_read_of_several_secrets_is_one_event_found_by_each_secret(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let ws = acme.id();
    let rows = crate::fixtures::secrets(s, ws, &["A", "B", "C_D"]).await;
    let used: Vec<String> = rows[..2].iter().map(|r| r.id.clone()).collect();
    let read = AuditRecord {
        actor: "identity:bot".into(),
        action: "secret.read".into(),
        detail: r#"{"secrets":{"A":1,"B":4}}"#.into(),
        ..audit(ws, "secret.read", "environment")
    };
    s.append_read(read, &used, 9_000, "identity:bot").await.unwrap();
    let seq = head_seq(s, ws).await;
    // An event whose detail has a `secrets` field of another shape (an action run's list of names)
    // never matches, nor breaks the query.
    s.append_audit(AuditRecord {
        detail: r#"{"secrets":["C_D"]}"#.into(),
        ..audit(ws, "action.run", "action:x")
    })
    .await
    .unwrap();
    let found = |name: &str| {
        let filter = AuditFilter {
            secret: Some(name.into()),
            ..all()
        };
        async move {
            s.list_audit(ws, &filter)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.record.action, e.seq))
                .collect::<Vec<_>>()
        }
    };
    s.append_audit(audit(ws, "secret.reveal", "secret:A")).await.unwrap();
    let revealed = head_seq(s, ws).await;
    assert_eq!(
        found("A").await,
        [("secret.read".to_owned(), seq), ("secret.reveal".to_owned(), revealed)],
        "the read that included it and the events targeting it"
    );
    assert_eq!(found("B").await, [("secret.read".to_owned(), seq)]);
    assert_eq!(found("C_D").await, [], "not read, only named by another kind of detail");
    for row in &rows {
        let stored = s.secret_by_name(ws, &row.name).await.unwrap().unwrap();
        if used.contains(&row.id) {
            assert_eq!(
                (stored.last_used_at, stored.last_used_by.as_deref()),
                (Some(9_000), Some("identity:bot"))
            );
        } else {
            assert_eq!(stored.last_used_at, None, "{}", row.name);
        }
    }
    verify_chain(s, ws).await;
}

async fn every_change_appends_one_event(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let ws = acme.id();
    let mut expected: Vec<AuditRecord> = s
        .list_audit(ws, &all())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.record)
        .collect();
    let ev = |action: &str| audit(ws, action, &format!("target:{action}"));

    macro_rules! appends_one {
        ($event:expr, $call:expr) => {{
            let event = $event;
            let before = head_seq(s, ws).await;
            $call(event.clone()).await.unwrap();
            assert_eq!(head_seq(s, ws).await, before + 1, "{}", event.action);
            expected.push(event);
        }};
    }
    let editor = member(ws, "editor@example.com", "editor");
    let personal = token(ws, &editor.id, "personal", 1_000);
    let (row, first) = secret(ws, "API_KEY", "text");
    appends_one!(ev("member.add"), |e| s.insert_member(editor.clone(), e));
    appends_one!(ev("member.role"), |e| s.set_member_role(ws, &editor.id, "admin", e));
    appends_one!(ev("token.create"), |e| s.insert_token(personal.clone(), e));
    appends_one!(ev("token.revoke"), |e| s.revoke_token(
        ws,
        &editor.id,
        &personal.id,
        2_000,
        e
    ));
    appends_one!(ev("secret.create"), |e| s.insert_secret(row.clone(), first.clone(), e));
    appends_one!(ev("secret.update"), |e| s.update_secret(update(&row, 1, "v2", true), e));
    appends_one!(ev("secret.delete"), |e| s.set_secret_trashed(
        ws,
        &row.id,
        Some((3_000, "m".into())),
        e
    ));
    appends_one!(ev("secret.restore"), |e| s.set_secret_trashed(ws, &row.id, None, e));
    appends_one!(ev("secret.delete"), |e| s.set_secret_trashed(
        ws,
        &row.id,
        Some((4_000, "m".into())),
        e
    ));
    appends_one!(ev("secret.purge"), |e| s.purge_secret(ws, &row.id, e));
    appends_one!(ev("member.remove"), |e| s.delete_member(ws, &editor.id, e));
    let worker = identity(ws, "payments-worker", "{}");
    let machine = identity_token(ws, &worker.id, 7_000);
    let read = policy(ws, "payments-read");
    appends_one!(ev("identity.create"), |e| s.insert_identity(worker.clone(), e));
    appends_one!(ev("identity.tag"), |e| s.set_identity_tags(
        ws,
        &worker.id,
        r#"{"team":"payments"}"#,
        e
    ));
    appends_one!(ev("identity.env.set"), |e| s.set_identity_env(
        ws,
        &worker.id,
        "LOG_LEVEL",
        "debug",
        e
    ));
    appends_one!(ev("identity.env.unset"), |e| s.unset_identity_env(
        ws,
        &worker.id,
        "LOG_LEVEL",
        e
    ));
    appends_one!(ev("identity.token.create"), |e| s.insert_token(machine.clone(), e));
    appends_one!(ev("identity.token.revoke"), |e| s.revoke_identity_token(
        ws,
        &worker.id,
        &machine.id,
        8_000,
        e
    ));
    appends_one!(ev("policy.create"), |e| s.insert_policy(read.clone(), e));
    appends_one!(ev("policy.delete"), |e| s.delete_policy(ws, &read.id, e));
    appends_one!(ev("identity.delete"), |e| s.delete_identity(ws, &worker.id, e));
    let before = head_seq(s, ws).await;
    s.append_audit(ev("secret.reveal")).await.unwrap();
    assert_eq!(head_seq(s, ws).await, before + 1);
    expected.push(ev("secret.reveal"));
    appends_one!(ev("auth.login"), |e| s
        .insert_token(token(ws, &acme.owner.id, "session", 5_000), e));
    // ...and the calls that are not audited by the store append nothing.
    s.touch_token(&personal.id, 6_000).await.unwrap();
    let reads = vec![ev("secret.read"), ev("secret.read")];
    let before = head_seq(s, ws).await;
    s.append_audits(reads.clone()).await.unwrap();
    assert_eq!(head_seq(s, ws).await, before + 2);
    expected.extend(reads);

    // The store names the version it assigned in an update's event.
    for e in expected.iter_mut().filter(|e| e.action == "secret.update") {
        let mut detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
        detail["version"] = 2.into();
        e.detail = detail.to_string();
    }
    let events = verify_chain(s, ws).await;
    let records: Vec<_> = events.into_iter().map(|e| e.record).collect();
    assert_eq!(records.len(), expected.len());
    for (got, want) in records.iter().zip(&expected) {
        // request ids are fresh per call of `ev`; everything else is stored as given.
        assert_eq!(
            AuditRecord {
                request_id: want.request_id.clone(),
                ..got.clone()
            },
            *want
        );
    }
}

async fn chains_are_per_workspace(db: Db) {
    let s = &*db.store;
    let a = workspace(s, "a").await;
    let b = workspace(s, "b").await;
    for i in 0..5 {
        s.append_audit(audit(a.id(), "login", "x")).await.unwrap();
        assert_eq!(head_seq(s, a.id()).await, 2 + i);
        if i % 2 == 0 {
            s.append_audit(audit(b.id(), "login", "x")).await.unwrap();
        }
    }
    assert_eq!(verify_chain(s, a.id()).await.len(), 6);
    assert_eq!(verify_chain(s, b.id()).await.len(), 4);
    assert_eq!(s.audit_head("no-such-workspace").await.unwrap(), None);
    assert!(s.append_audit(audit("no-such-workspace", "login", "x")).await.is_err());
}

/// What the audit file's follower compares with the file: every workspace, its name and its
/// last event's sequence number, by workspace id.
async fn audit_heads_name_every_workspace_and_its_last_seq(db: Db) {
    let s = &*db.store;
    let a = workspace(s, "a").await;
    let b = workspace(s, "b").await;
    for _ in 0..3 {
        s.append_audit(audit(a.id(), "login", "x")).await.unwrap();
    }
    let heads = s.audit_heads().await.unwrap();
    let mut expected = vec![(a.id().to_owned(), "a", 4), (b.id().to_owned(), "b", 1)];
    expected.sort();
    let got: Vec<(String, &str, i64)> = heads
        .iter()
        .map(|h| (h.workspace_id.clone(), h.workspace_name.as_str(), h.seq))
        .collect();
    assert_eq!(got, expected);
}

/// Two stores on one database (two server processes) extend the same chain.
async fn one_chain_across_store_instances(db: Db) {
    let second = db.open_again().await;
    let acme = workspace(&*db.store, "acme").await;
    for i in 0..10 {
        let server = if i % 2 == 0 { &db.store } else { &second };
        server.append_audit(audit(acme.id(), "login", "x")).await.unwrap();
        assert_eq!(head_seq(&**server, acme.id()).await, i + 2);
    }
    assert_eq!(verify_chain(&*second, acme.id()).await.len(), 11);
}

async fn list_filters_and_paging(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await; // seq 1, at 1_000
    let other = workspace(s, "other").await;
    let event = |at: i64, actor: &str, action: &str, target: &str| AuditRecord {
        at,
        actor: actor.into(),
        action: action.into(),
        target: target.into(),
        ..audit(acme.id(), "", "")
    };
    // seq 2..=7
    for e in [
        event(2_000, "member:a", "secret.read", "secret:A"),
        event(3_000, "member:b", "secret.read", "secret:B"),
        event(4_000, "member:a", "secret.update", "secret:A"),
        event(5_000, "member:a", "login", "member:a"),
        event(6_000, "member:b", "secret.read", "secret:A"),
        event(7_000, "member:a", "secret.read", "secret:A"),
    ] {
        s.append_audit(e).await.unwrap();
    }
    s.append_audit(AuditRecord {
        workspace_id: other.id().into(),
        ..event(2_500, "member:a", "secret.read", "secret:A")
    })
    .await
    .unwrap();

    let ws = acme.id();
    let seqs = |filter: AuditFilter| async move {
        s.list_audit(ws, &filter)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>()
    };
    assert_eq!(seqs(all()).await, [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(
        seqs(AuditFilter {
            actor: Some("member:a".into()),
            ..all()
        })
        .await,
        [2, 4, 5, 7]
    );
    assert_eq!(
        seqs(AuditFilter {
            action: Some("secret.read".into()),
            ..all()
        })
        .await,
        [2, 3, 6, 7]
    );
    assert_eq!(
        seqs(AuditFilter {
            target: Some("secret:A".into()),
            ..all()
        })
        .await,
        [2, 4, 6, 7]
    );
    assert_eq!(
        seqs(AuditFilter {
            since: Some(3_000),
            until: Some(6_000),
            ..all()
        })
        .await,
        [3, 4, 5],
        "[since, until)"
    );
    let reads_of_a = AuditFilter {
        action: Some("secret.read".into()),
        target: Some("secret:A".into()),
        ..all()
    };
    assert_eq!(seqs(reads_of_a.clone()).await, [2, 6, 7]);

    // Paging: `limit` from the oldest, then on after the last seq seen.
    assert_eq!(seqs(AuditFilter { limit: 3, ..all() }).await, [1, 2, 3]);
    assert_eq!(
        seqs(AuditFilter {
            limit: 3,
            after_seq: Some(3),
            ..all()
        })
        .await,
        [4, 5, 6]
    );
    assert_eq!(
        seqs(AuditFilter {
            limit: 3,
            after_seq: Some(6),
            ..all()
        })
        .await,
        [7]
    );
    assert_eq!(
        seqs(AuditFilter {
            limit: 1,
            after_seq: Some(2),
            ..reads_of_a.clone()
        })
        .await,
        [6]
    );

    // Newest first, paging back with `before_seq`.
    let newest = |limit, before_seq| AuditFilter {
        limit,
        before_seq,
        newest_first: true,
        ..all()
    };
    assert_eq!(seqs(newest(0, None)).await, [7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(seqs(newest(3, None)).await, [7, 6, 5]);
    assert_eq!(seqs(newest(3, Some(5))).await, [4, 3, 2]);
    assert_eq!(seqs(newest(3, Some(2))).await, [1]);
    assert_eq!(
        seqs(AuditFilter {
            newest_first: true,
            limit: 2,
            ..reads_of_a
        })
        .await,
        [7, 6]
    );
}

async fn append_audits_in_order(db: Db) {
    let s = &*db.store;
    let a = workspace(s, "a").await;
    let b = workspace(s, "b").await;
    s.append_audits(Vec::new()).await.unwrap();
    assert_eq!(head_seq(s, a.id()).await, 1);

    // Events of two workspaces, interleaved: each chain goes on in the order given.
    let records: Vec<AuditRecord> = (0..6)
        .map(|i| {
            let ws = if i % 3 == 1 { b.id() } else { a.id() };
            audit(ws, "secret.read", &format!("secret:S{i}"))
        })
        .collect();
    s.append_audits(records.clone()).await.unwrap();
    assert_eq!((head_seq(s, a.id()).await, head_seq(s, b.id()).await), (5, 3));
    // ...and the single-event path continues them.
    s.append_audit(audit(a.id(), "login", "x")).await.unwrap();
    assert_eq!(head_seq(s, a.id()).await, 6);

    let stored_a = verify_chain(s, a.id()).await;
    let stored_b = verify_chain(s, b.id()).await;
    assert_eq!((stored_a.len(), stored_b.len()), (6, 3));
    let targets = |events: &[sealbox_store::AuditEventRow]| -> Vec<String> {
        events[1..].iter().map(|e| e.record.target.clone()).collect()
    };
    assert_eq!(
        targets(&stored_a),
        ["secret:S0", "secret:S2", "secret:S3", "secret:S5", "x"]
    );
    assert_eq!(targets(&stored_b), ["secret:S1", "secret:S4"]);
    assert_eq!(stored_a[1].record, records[0]);
}

async fn append_audits_is_all_or_nothing(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let ws = acme.id();
    s.append_audit(audit(ws, "login", "x")).await.unwrap();
    let seq = head_seq(s, ws).await;
    let head = s.audit_head(ws).await.unwrap();

    // A workspace that does not exist: none of the events are written.
    let err = s
        .append_audits(vec![
            audit(ws, "secret.read", "secret:A"),
            audit("no-such-workspace", "secret.read", "secret:B"),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(s.audit_head(ws).await.unwrap(), head);

    // The third event cannot be written after two were: the two are not kept either.
    db.refuse_audit_action("poison").await;
    let err = s
        .append_audits(vec![
            audit(ws, "secret.read", "secret:A"),
            audit(ws, "secret.read", "secret:B"),
            audit(ws, "poison", "secret:C"),
            audit(ws, "secret.read", "secret:D"),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Audit(m) if m.contains("audit refused")),
        "{err:?}"
    );
    assert_eq!(s.audit_head(ws).await.unwrap(), head);
    assert_eq!(verify_chain(s, ws).await.len() as i64, seq);

    // The chain goes on from where it was.
    s.append_audits(vec![audit(ws, "secret.read", "secret:A")])
        .await
        .unwrap();
    assert_eq!(head_seq(s, ws).await, seq + 1);
    verify_chain(s, ws).await;
}
