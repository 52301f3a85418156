use sealbox_store::{LAST_USED_PRECISION_MS, SecretFilter, SecretUpdate, StoreError};

use crate::fixtures::{audit, head_seq, secret, secrets, update, version, workspace};
use crate::harness::Db;

conformance!(
    insert_and_duplicate_name_even_in_trash,
    list_filters,
    update_adds_versions,
    stale_update_is_a_conflict_and_writes_nothing,
    concurrent_updates_without_expected_version_all_land,
    trash_restore_and_purge,
    trashed_before_spans_workspaces,
    secret_with_version,
    live_secrets_with_current_version,
    append_read_records_use,
    use_is_recorded_to_the_minute,
    live_secrets_tagged_reads_only_what_the_tags_select,
);

fn names(rows: &[sealbox_store::SecretRow]) -> Vec<&str> {
    rows.iter().map(|r| r.name.as_str()).collect()
}

async fn insert_and_duplicate_name_even_in_trash(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let other = workspace(s, "other").await;
    let (row, first) = secret(acme.id(), "API_KEY", "text");
    s.insert_secret(row.clone(), first.clone(), audit(acme.id(), "secret.create", "API_KEY"))
        .await
        .unwrap();
    assert_eq!(s.secret_by_name(acme.id(), "API_KEY").await.unwrap(), Some(row.clone()));
    assert_eq!(s.secret_version(&row.id, 1).await.unwrap(), Some(first));
    assert_eq!(s.secret_by_name(other.id(), "API_KEY").await.unwrap(), None);

    let (twin, twin_first) = secret(acme.id(), "API_KEY", "text");
    let err = s
        .insert_secret(twin.clone(), twin_first, audit(acme.id(), "secret.create", "API_KEY"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate("secret_name")), "{err:?}");
    assert_eq!(s.secret_version(&twin.id, 1).await.unwrap(), None);

    s.set_secret_trashed(
        acme.id(),
        &row.id,
        Some((2_000, "member:a".into())),
        audit(acme.id(), "secret.delete", "API_KEY"),
    )
    .await
    .unwrap();
    let (twin, twin_first) = secret(acme.id(), "API_KEY", "text");
    let err = s
        .insert_secret(twin, twin_first, audit(acme.id(), "secret.create", "API_KEY"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate("secret_name")),
        "a trashed secret keeps its name: {err:?}"
    );

    // The name is free in another workspace.
    secrets(s, other.id(), &["API_KEY"]).await;
    assert_eq!(head_seq(s, acme.id()).await, 3);
}

async fn list_filters(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let other = workspace(s, "other").await;
    secrets(s, acme.id(), &["db/user", "api", "DB/ADMIN", "db/host"]).await;
    secrets(s, other.id(), &["db/other"]).await;
    let (password, first) = secret(acme.id(), "db/password", "password");
    s.insert_secret(password.clone(), first, audit(acme.id(), "secret.create", "x"))
        .await
        .unwrap();
    let trashed = s.secret_by_name(acme.id(), "db/host").await.unwrap().unwrap();
    s.set_secret_trashed(
        acme.id(),
        &trashed.id,
        Some((2_000, "m".into())),
        audit(acme.id(), "secret.delete", "x"),
    )
    .await
    .unwrap();

    let ws = acme.id();
    let list = |filter: SecretFilter| async move { s.list_secrets(ws, &filter).await.unwrap() };
    let live = list(SecretFilter::default()).await;
    assert_eq!(
        names(&live),
        ["DB/ADMIN", "api", "db/password", "db/user"],
        "byte order, live only"
    );
    let prefixed = list(SecretFilter {
        prefix: Some("db/".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        names(&prefixed),
        ["db/password", "db/user"],
        "the prefix is case-sensitive"
    );
    let typed = list(SecretFilter {
        secret_type: Some("password".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(typed, [password]);
    let both = list(SecretFilter {
        prefix: Some("db/".into()),
        secret_type: Some("text".into()),
        in_trash: false,
    })
    .await;
    assert_eq!(names(&both), ["db/user"]);
    let trash = list(SecretFilter {
        in_trash: true,
        ..Default::default()
    })
    .await;
    assert_eq!(names(&trash), ["db/host"]);
    let none = list(SecretFilter {
        prefix: Some("db/%".into()),
        ..Default::default()
    })
    .await;
    assert!(none.is_empty(), "the prefix is not a pattern");
}

async fn update_adds_versions(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let row = secrets(s, acme.id(), &["API_KEY"]).await.remove(0);

    s.update_secret(
        update(&row, 1, "second", true),
        audit(acme.id(), "secret.update", "API_KEY"),
    )
    .await
    .unwrap();
    let stored = s.secret_by_name(acme.id(), "API_KEY").await.unwrap().unwrap();
    assert_eq!(stored.current_version, 2);
    assert_eq!(stored.description, "second");
    assert_eq!(stored.metadata, r#"{"owner":"ops"}"#);
    assert_eq!(stored.tags, r#"["prod"]"#);
    assert_eq!(
        (stored.updated_at, stored.updated_by.as_str()),
        (2_000, "member:editor@example.com")
    );
    assert_eq!(
        (stored.created_at, stored.created_by.as_str()),
        (row.created_at, row.created_by.as_str())
    );
    let second = s.secret_version(&row.id, 2).await.unwrap().unwrap();
    assert_eq!(
        second.ciphertext,
        version(&row.id, 2).ciphertext,
        "sealed for the number the store assigned"
    );
    assert_eq!(
        (second.created_at, second.created_by.as_str()),
        (2_000, "member:editor@example.com")
    );
    assert_eq!(s.secret_version(&row.id, 1).await.unwrap(), Some(version(&row.id, 1)));

    // Without a new value only the fields change.
    s.update_secret(
        update(&row, 2, "third", false),
        audit(acme.id(), "secret.update", "API_KEY"),
    )
    .await
    .unwrap();
    let stored = s.secret_by_name(acme.id(), "API_KEY").await.unwrap().unwrap();
    assert_eq!((stored.current_version, stored.description.as_str()), (2, "third"));
    let versions: Vec<_> = s
        .list_versions(&row.id)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, [2, 1]);
    let newest = &s.list_versions(&row.id).await.unwrap()[0];
    assert_eq!(
        (newest.created_at, newest.created_by.as_str()),
        (2_000, "member:editor@example.com")
    );
    assert_eq!(s.secret_version(&row.id, 3).await.unwrap(), None);
    assert_eq!(head_seq(s, acme.id()).await, 4);
}

async fn stale_update_is_a_conflict_and_writes_nothing(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let row = secrets(s, acme.id(), &["API_KEY"]).await.remove(0);
    s.update_secret(update(&row, 1, "second", true), audit(acme.id(), "secret.update", "x"))
        .await
        .unwrap();
    let before = s.secret_by_name(acme.id(), "API_KEY").await.unwrap();
    let seq = head_seq(s, acme.id()).await;

    for new_value in [true, false] {
        let err = s
            .update_secret(
                update(&row, 1, "stale", new_value),
                audit(acme.id(), "secret.update", "x"),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::VersionConflict { current: 2 }), "{err:?}");
    }
    assert_eq!(s.secret_by_name(acme.id(), "API_KEY").await.unwrap(), before);
    assert_eq!(s.list_versions(&row.id).await.unwrap().len(), 2);
    assert_eq!(head_seq(s, acme.id()).await, seq);

    let mut elsewhere = update(&row, 2, "x", false);
    elsewhere.workspace_id = workspace(s, "other").await.row.id;
    let other_workspace = elsewhere.workspace_id.clone();
    let err = s
        .update_secret(elsewhere, audit(&other_workspace, "secret.update", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound),
        "another workspace's secret: {err:?}"
    );
}

async fn concurrent_updates_without_expected_version_all_land(db: Db) {
    let store = db.store.clone();
    let acme = workspace(&*store, "acme").await;
    let row = secrets(&*store, acme.id(), &["HOT"]).await.remove(0);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (store, row, ws) = (store.clone(), row.clone(), acme.id().to_owned());
        tasks.push(tokio::spawn(async move {
            let mut change = update(&row, 1, &format!("writer {i}"), true);
            change.expected_current_version = None;
            let mut record = audit(&ws, "secret.update", "HOT");
            record.detail = r#"{"version": 0}"#.into();
            store.update_secret(change, record).await
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await.unwrap().unwrap().current_version);
    }
    versions.sort();
    assert_eq!(
        versions,
        (2..=41).collect::<Vec<_>>(),
        "each writer got its own version, none a conflict"
    );
    let events = store.list_audit(acme.id(), &crate::fixtures::all()).await.unwrap();
    let mut recorded: Vec<i64> = events
        .iter()
        .filter(|e| e.record.action == "secret.update")
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.record.detail).unwrap()["version"]
                .as_i64()
                .unwrap()
        })
        .collect();
    recorded.sort();
    assert_eq!(recorded, versions, "each event names the version the store assigned");
    for v in 2..=41 {
        let stored = store.secret_version(&row.id, v).await.unwrap().unwrap();
        assert_eq!(stored.ciphertext, version(&row.id, v).ciphertext);
    }
}

async fn trash_restore_and_purge(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let row = secrets(s, acme.id(), &["API_KEY"]).await.remove(0);
    s.update_secret(update(&row, 1, "second", true), audit(acme.id(), "secret.update", "x"))
        .await
        .unwrap();
    let ev = || audit(acme.id(), "secret.x", "API_KEY");

    let err = s.purge_secret(acme.id(), &row.id, ev()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound),
        "only a trashed secret is purged: {err:?}"
    );
    let err = s.set_secret_trashed(acme.id(), &row.id, None, ev()).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "restoring a live secret: {err:?}");

    s.set_secret_trashed(acme.id(), &row.id, Some((3_000, "member:a".into())), ev())
        .await
        .unwrap();
    let trashed = s.secret_by_name(acme.id(), "API_KEY").await.unwrap().unwrap();
    assert_eq!(
        (trashed.deleted_at, trashed.deleted_by.as_deref()),
        (Some(3_000), Some("member:a"))
    );
    let err = s
        .set_secret_trashed(acme.id(), &row.id, Some((4_000, "member:b".into())), ev())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "trashing twice: {err:?}");
    let err = s
        .update_secret(update(&row, 2, "in trash", true), ev())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound),
        "updating a trashed secret: {err:?}"
    );
    assert_eq!(s.list_versions(&row.id).await.unwrap().len(), 2);

    s.set_secret_trashed(acme.id(), &row.id, None, ev()).await.unwrap();
    let restored = s.secret_by_name(acme.id(), "API_KEY").await.unwrap().unwrap();
    assert_eq!((restored.deleted_at, restored.deleted_by), (None, None));
    assert_eq!(restored.current_version, 2);

    s.set_secret_trashed(acme.id(), &row.id, Some((5_000, "member:a".into())), ev())
        .await
        .unwrap();
    s.purge_secret(acme.id(), &row.id, ev()).await.unwrap();
    assert_eq!(s.secret_by_name(acme.id(), "API_KEY").await.unwrap(), None);
    assert!(s.list_versions(&row.id).await.unwrap().is_empty());
    assert_eq!(s.secret_version(&row.id, 1).await.unwrap(), None);
    let err = s.purge_secret(acme.id(), &row.id, ev()).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    // create, add, update, trash, restore, trash, purge
    assert_eq!(head_seq(s, acme.id()).await, 7);
    // The name is free again.
    secrets(s, acme.id(), &["API_KEY"]).await;
}

async fn trashed_before_spans_workspaces(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let other = workspace(s, "other").await;
    let old = secrets(s, acme.id(), &["OLD", "LIVE"]).await.remove(0);
    let newer = secrets(s, other.id(), &["NEWER"]).await.remove(0);
    s.set_secret_trashed(
        acme.id(),
        &old.id,
        Some((100, "m".into())),
        audit(acme.id(), "secret.delete", "x"),
    )
    .await
    .unwrap();
    s.set_secret_trashed(
        other.id(),
        &newer.id,
        Some((200, "m".into())),
        audit(other.id(), "secret.delete", "x"),
    )
    .await
    .unwrap();
    assert!(s.trashed_before(100).await.unwrap().is_empty(), "strictly before");
    assert_eq!(names(&s.trashed_before(150).await.unwrap()), ["OLD"]);
    assert_eq!(names(&s.trashed_before(250).await.unwrap()), ["OLD", "NEWER"]);
}

async fn secret_with_version(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let other = workspace(s, "other").await;
    let row = secrets(s, acme.id(), &["API_KEY"]).await.remove(0);
    let ws = acme.id();
    let read = |name: &'static str, version: Option<i64>| async move {
        s.secret_with_version(ws, name, version).await.unwrap()
    };
    assert_eq!(
        read("API_KEY", None).await,
        Some((row.clone(), Some(version(&row.id, 1))))
    );

    s.update_secret(update(&row, 1, "second", true), audit(acme.id(), "secret.update", "x"))
        .await
        .unwrap();
    let stored = s.secret_by_name(acme.id(), "API_KEY").await.unwrap().unwrap();
    let second = s.secret_version(&row.id, 2).await.unwrap();
    assert!(second.is_some());
    assert_eq!(
        read("API_KEY", None).await,
        Some((stored.clone(), second.clone())),
        "the current version"
    );
    assert_eq!(read("API_KEY", Some(2)).await, Some((stored.clone(), second)));
    assert_eq!(
        read("API_KEY", Some(1)).await,
        Some((stored.clone(), Some(version(&row.id, 1)))),
        "an older version"
    );
    assert_eq!(
        read("API_KEY", Some(3)).await,
        Some((stored.clone(), None)),
        "no such version"
    );
    assert_eq!(read("NOPE", None).await, None);
    assert_eq!(s.secret_with_version(other.id(), "API_KEY", None).await.unwrap(), None);

    // Like `secret_by_name`, a secret in the trash is found, with its versions.
    s.set_secret_trashed(
        acme.id(),
        &row.id,
        Some((3_000, "member:a".into())),
        audit(acme.id(), "secret.delete", "x"),
    )
    .await
    .unwrap();
    let (trashed, current) = read("API_KEY", None).await.unwrap();
    assert_eq!(trashed.deleted_at, Some(3_000));
    assert_eq!(current.map(|v| v.version), Some(2));
}

async fn live_secrets_with_current_version(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let other = workspace(s, "other").await;
    let ws = acme.id();
    assert!(s.live_secrets_with_current_version(ws).await.unwrap().is_empty());
    let rows = secrets(s, ws, &["ZETA", "ALPHA", "TRASHED", "MIDDLE"]).await;
    secrets(s, other.id(), &["ELSEWHERE"]).await;
    let [zeta, alpha, trashed, middle] = &rows[..] else {
        unreachable!()
    };

    // ZETA gets two more versions; ALPHA a change that is not a new value.
    s.update_secret(update(zeta, 1, "second", true), audit(ws, "secret.update", "x"))
        .await
        .unwrap();
    s.update_secret(update(zeta, 2, "third", true), audit(ws, "secret.update", "x"))
        .await
        .unwrap();
    let mut described = update(alpha, 1, "described", false);
    described.expected_current_version = None;
    s.update_secret(described, audit(ws, "secret.update", "x"))
        .await
        .unwrap();
    s.set_secret_trashed(
        ws,
        &trashed.id,
        Some((3_000, "member:a".into())),
        audit(ws, "secret.delete", "x"),
    )
    .await
    .unwrap();

    let live = s.live_secrets_with_current_version(ws).await.unwrap();
    let mut want = Vec::new();
    for row in [alpha, middle, zeta] {
        let stored = s.secret_by_name(ws, &row.name).await.unwrap().unwrap();
        let current = s
            .secret_version(&row.id, stored.current_version)
            .await
            .unwrap()
            .unwrap();
        want.push((stored, current));
    }
    assert_eq!(live, want, "live ones only, by name, each with its current version");
    let versions: Vec<_> = live.iter().map(|(row, v)| (row.name.as_str(), v.version)).collect();
    assert_eq!(versions, [("ALPHA", 1), ("MIDDLE", 1), ("ZETA", 3)]);
    let sealed = version(&zeta.id, 3);
    assert_eq!(
        (&live[2].1.ciphertext, &live[2].1.wrapped_dek),
        (&sealed.ciphertext, &sealed.wrapped_dek),
        "the value sealed for version 3"
    );
    assert_eq!(live[0].0.description, "described");

    // Restored, it is back.
    s.set_secret_trashed(ws, &trashed.id, None, audit(ws, "secret.restore", "x"))
        .await
        .unwrap();
    let names: Vec<_> = s
        .live_secrets_with_current_version(ws)
        .await
        .unwrap()
        .into_iter()
        .map(|(row, _)| row.name)
        .collect();
    assert_eq!(names, ["ALPHA", "MIDDLE", "TRASHED", "ZETA"]);
}

async fn append_read_records_use(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let other = workspace(s, "other").await;
    let rows = secrets(s, acme.id(), &["A", "B", "C"]).await;
    let theirs = secrets(s, other.id(), &["D"]).await.remove(0);
    let seq = head_seq(s, acme.id()).await;

    let read = audit(acme.id(), "secret.read", "environment");
    s.append_read(read.clone(), &[], 8_000, "identity:nobody")
        .await
        .unwrap();
    let ids = vec![rows[0].id.clone(), rows[2].id.clone(), "no-such-secret".to_owned()];
    s.append_read(read, &ids, 9_000, "identity:payments-worker")
        .await
        .unwrap();
    let used: Vec<_> = s
        .list_secrets(acme.id(), &SecretFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.name, row.last_used_at, row.last_used_by))
        .collect();
    let by = Some("identity:payments-worker".to_owned());
    assert_eq!(
        used,
        [
            ("A".to_owned(), Some(9_000), by.clone()),
            ("B".to_owned(), None, None),
            ("C".to_owned(), Some(9_000), by),
        ]
    );
    let stored = s.secret_by_name(acme.id(), "A").await.unwrap().unwrap();
    assert_eq!(
        (stored.updated_at, stored.current_version),
        (rows[0].updated_at, 1),
        "use is not a change"
    );
    assert_eq!(s.secret_by_name(other.id(), "D").await.unwrap(), Some(theirs));
    assert_eq!(head_seq(s, acme.id()).await, seq + 2, "each read is one event");
}

/// Issue 13: an identity reading its environment in a loop does not write its secrets' rows on
/// every read: a use is recorded when the stored one is a minute old, or by someone else.
async fn use_is_recorded_to_the_minute(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let rows = secrets(s, acme.id(), &["A"]).await;
    let ids = vec![rows[0].id.clone()];
    let read = || audit(acme.id(), "secret.read", "environment");
    let last_used = || async {
        let row = s.secret_by_name(acme.id(), "A").await.unwrap().unwrap();
        (row.last_used_at, row.last_used_by)
    };
    let bot = || Some("identity:bot".to_owned());
    s.append_read(read(), &ids, 100_000, "identity:bot").await.unwrap();
    assert_eq!(last_used().await, (Some(100_000), bot()));
    s.append_read(read(), &ids, 100_000 + LAST_USED_PRECISION_MS - 1, "identity:bot")
        .await
        .unwrap();
    assert_eq!(
        last_used().await,
        (Some(100_000), bot()),
        "within the minute: not written again"
    );
    s.append_read(read(), &ids, 130_000, "identity:other").await.unwrap();
    assert_eq!(
        last_used().await,
        (Some(130_000), Some("identity:other".to_owned())),
        "another reader is recorded at once"
    );
    s.append_read(read(), &ids, 130_000 + LAST_USED_PRECISION_MS, "identity:other")
        .await
        .unwrap();
    assert_eq!(
        last_used().await,
        (
            Some(130_000 + LAST_USED_PRECISION_MS),
            Some("identity:other".to_owned())
        )
    );
}

/// Issue 13: the environment's read goes through the tag index: every live secret carrying all
/// tags of one of the sets, none other (another workspace's, a trashed one, one whose tags
/// changed), and an empty set selects every live secret.
async fn live_secrets_tagged_reads_only_what_the_tags_select(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let other = workspace(s, "other").await;
    let ws = acme.id();
    let tagged = |name: &str, tags: &str, in_ws: &str| {
        let (mut row, first) = secret(in_ws, name, "text");
        row.tags = tags.into();
        (row, first)
    };
    for (name, tags, in_ws) in [
        ("PAY_DB", r#"{"team":"payments","env":"prod"}"#, ws),
        ("PAY_TEST", r#"{"team":"payments","env":"test"}"#, ws),
        ("OPS", r#"{"team":"ops"}"#, ws),
        ("UNTAGGED", "{}", ws),
        ("THEIRS", r#"{"team":"payments","env":"prod"}"#, other.id()),
        ("GONE", r#"{"team":"payments","env":"prod"}"#, ws),
    ] {
        let (row, first) = tagged(name, tags, in_ws);
        s.insert_secret(row, first, audit(in_ws, "secret.create", name))
            .await
            .unwrap();
    }
    let gone = s.secret_by_name(ws, "GONE").await.unwrap().unwrap();
    s.set_secret_trashed(
        ws,
        &gone.id,
        Some((2_000, "member:x".into())),
        audit(ws, "secret.delete", "GONE"),
    )
    .await
    .unwrap();
    let set = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let found = |sets: Vec<Vec<(String, String)>>| async move {
        let rows = s.live_secrets_tagged(ws, &sets).await.unwrap();
        for (row, version) in &rows {
            assert_eq!(
                (version.secret_id.as_str(), version.version),
                (row.id.as_str(), row.current_version)
            );
        }
        rows.into_iter().map(|(row, _)| row.name).collect::<Vec<_>>()
    };
    assert_eq!(found(vec![set(&[("team", "payments")])]).await, ["PAY_DB", "PAY_TEST"]);
    assert_eq!(
        found(vec![set(&[("team", "payments"), ("env", "prod")])]).await,
        ["PAY_DB"]
    );
    assert_eq!(
        found(vec![
            set(&[("env", "prod")]),
            set(&[("team", "ops")]),
            set(&[("team", "payments")])
        ])
        .await,
        ["OPS", "PAY_DB", "PAY_TEST"],
        "a union, each secret once, by name"
    );
    assert_eq!(found(vec![set(&[("team", "nobody")])]).await, Vec::<String>::new());
    assert_eq!(found(vec![]).await, Vec::<String>::new());
    assert_eq!(found(vec![set(&[])]).await, ["OPS", "PAY_DB", "PAY_TEST", "UNTAGGED"]);

    // Retagged: the index follows.
    let ops = s.secret_by_name(ws, "OPS").await.unwrap().unwrap();
    s.update_secret(
        SecretUpdate {
            tags: Some(r#"{"team":"payments","env":"prod"}"#.into()),
            ..update(&ops, 1, "retagged", false)
        },
        audit(ws, "secret.update", "OPS"),
    )
    .await
    .unwrap();
    assert_eq!(found(vec![set(&[("env", "prod")])]).await, ["OPS", "PAY_DB"]);
    assert_eq!(found(vec![set(&[("team", "ops")])]).await, Vec::<String>::new());
    // Restored from the trash it is found again; purged it is gone.
    s.set_secret_trashed(ws, &gone.id, None, audit(ws, "secret.restore", "GONE"))
        .await
        .unwrap();
    assert_eq!(found(vec![set(&[("env", "prod")])]).await, ["GONE", "OPS", "PAY_DB"]);
    s.set_secret_trashed(
        ws,
        &gone.id,
        Some((3_000, "member:x".into())),
        audit(ws, "secret.delete", "GONE"),
    )
    .await
    .unwrap();
    s.purge_secret(ws, &gone.id, audit(ws, "secret.purge", "GONE"))
        .await
        .unwrap();
    assert_eq!(found(vec![set(&[("env", "prod")])]).await, ["OPS", "PAY_DB"]);
}
