//! Machine identities, their environment variables, their tokens, and tag policies.

use sealbox_store::{IdentityRow, StoreError};

use crate::fixtures::{
    audit, head_seq, identity, identity_token, member, policy, stored_identity, token, verify_chain, workspace,
};
use crate::harness::Db;

conformance!(
    identity_lifecycle,
    identity_env_set_and_unset,
    deleting_an_identity_takes_its_env_and_tokens,
    policy_lifecycle,
    identity_tokens,
    token_with_identity_and_token_with_member_do_not_mix,
);

fn names(rows: &[IdentityRow]) -> Vec<&str> {
    rows.iter().map(|r| r.name.as_str()).collect()
}

async fn identity_lifecycle(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let other = workspace(s, "other").await;
    let ws = acme.id();
    let seq = head_seq(s, ws).await;

    let worker = identity(ws, "payments-worker", r#"{"team":"payments"}"#);
    let agent = identity(ws, "agent", "{}");
    s.insert_identity(worker.clone(), audit(ws, "identity.create", "identity:payments-worker"))
        .await
        .unwrap();
    s.insert_identity(agent.clone(), audit(ws, "identity.create", "identity:agent"))
        .await
        .unwrap();
    assert_eq!(head_seq(s, ws).await, seq + 2);

    // The name is taken in this workspace, and free in another.
    let twin = identity(ws, "payments-worker", "{}");
    let err = s
        .insert_identity(twin.clone(), audit(ws, "identity.create", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate("identity_name")), "{err:?}");
    assert_eq!(head_seq(s, ws).await, seq + 2, "a refused change appends nothing");
    let elsewhere = stored_identity(s, other.id(), "payments-worker").await;
    // An identity is recorded in the workspace its audit record names.
    let err = s
        .insert_identity(
            identity(ws, "mismatched", "{}"),
            audit(other.id(), "identity.create", "x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Audit(_)), "{err:?}");

    assert_eq!(
        s.identity_by_name(ws, "payments-worker").await.unwrap(),
        Some(worker.clone())
    );
    assert_eq!(
        s.identity_by_name(other.id(), "payments-worker").await.unwrap(),
        Some(elsewhere.clone())
    );
    assert_eq!(s.identity_by_name(ws, "nobody").await.unwrap(), None);
    assert_eq!(
        names(&s.list_identities(ws).await.unwrap()),
        ["agent", "payments-worker"]
    );
    assert_eq!(
        s.list_identities(other.id()).await.unwrap(),
        std::slice::from_ref(&elsewhere)
    );

    // Tags are replaced as given; only in the identity's own workspace.
    s.set_identity_tags(ws, &worker.id, r#"{"team":"billing"}"#, audit(ws, "identity.tag", "x"))
        .await
        .unwrap();
    let tagged = s.identity_by_name(ws, "payments-worker").await.unwrap().unwrap();
    assert_eq!(
        tagged,
        IdentityRow {
            tags: r#"{"team":"billing"}"#.into(),
            ..worker.clone()
        }
    );
    let seq = head_seq(s, ws).await;
    for (in_ws, id) in [(ws, "no-such-identity"), (ws, elsewhere.id.as_str())] {
        let err = s
            .set_identity_tags(in_ws, id, "{}", audit(in_ws, "identity.tag", "x"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
    }
    assert_eq!(head_seq(s, ws).await, seq);
    assert_eq!(
        s.identity_by_name(other.id(), "payments-worker").await.unwrap(),
        Some(elsewhere)
    );

    // Deleting: only in its own workspace, once.
    let err = s
        .delete_identity(other.id(), &agent.id, audit(other.id(), "identity.delete", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    s.delete_identity(ws, &agent.id, audit(ws, "identity.delete", "x"))
        .await
        .unwrap();
    let err = s
        .delete_identity(ws, &agent.id, audit(ws, "identity.delete", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(names(&s.list_identities(ws).await.unwrap()), ["payments-worker"]);
    assert_eq!(head_seq(s, ws).await, seq + 1);
    verify_chain(s, ws).await;
    verify_chain(s, other.id()).await;
}

async fn identity_env_set_and_unset(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let other = workspace(s, "other").await;
    let ws = acme.id();
    let worker = stored_identity(s, ws, "payments-worker").await;
    let stranger = stored_identity(s, other.id(), "stranger").await;
    let seq = head_seq(s, ws).await;
    let ev = || audit(ws, "identity.env", "identity:payments-worker");

    assert!(s.identity_env(&worker.id).await.unwrap().is_empty());
    s.set_identity_env(ws, &worker.id, "LOG_LEVEL", "debug", ev())
        .await
        .unwrap();
    s.set_identity_env(ws, &worker.id, "API_URL", "https://api.example.com", ev())
        .await
        .unwrap();
    // Setting a key again replaces its value.
    s.set_identity_env(ws, &worker.id, "LOG_LEVEL", "info", ev())
        .await
        .unwrap();
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    assert_eq!(
        s.identity_env(&worker.id).await.unwrap(),
        pairs(&[("API_URL", "https://api.example.com"), ("LOG_LEVEL", "info")]),
        "by key"
    );
    assert_eq!(head_seq(s, ws).await, seq + 3);

    s.unset_identity_env(ws, &worker.id, "API_URL", ev()).await.unwrap();
    assert_eq!(
        s.identity_env(&worker.id).await.unwrap(),
        pairs(&[("LOG_LEVEL", "info")])
    );
    assert_eq!(head_seq(s, ws).await, seq + 4);

    // Absent keys, unknown identities and another workspace's identity: NotFound, nothing appended.
    let err = s.unset_identity_env(ws, &worker.id, "API_URL", ev()).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let err = s
        .set_identity_env(ws, "no-such-identity", "K", "v", ev())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    s.set_identity_env(
        other.id(),
        &stranger.id,
        "LOG_LEVEL",
        "trace",
        audit(other.id(), "identity.env", "x"),
    )
    .await
    .unwrap();
    let err = s
        .set_identity_env(ws, &stranger.id, "LOG_LEVEL", "debug", ev())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let err = s
        .unset_identity_env(ws, &stranger.id, "LOG_LEVEL", ev())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(
        s.identity_env(&stranger.id).await.unwrap(),
        pairs(&[("LOG_LEVEL", "trace")])
    );
    assert_eq!(head_seq(s, ws).await, seq + 4);
    verify_chain(s, ws).await;
    verify_chain(s, other.id()).await;
}

async fn deleting_an_identity_takes_its_env_and_tokens(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let ws = acme.id();
    let worker = stored_identity(s, ws, "payments-worker").await;
    let keeper = stored_identity(s, ws, "keeper").await;
    for who in [&worker, &keeper] {
        s.set_identity_env(ws, &who.id, "LOG_LEVEL", "debug", audit(ws, "identity.env", "x"))
            .await
            .unwrap();
    }
    let worker_token = identity_token(ws, &worker.id, 1_000);
    let keeper_token = identity_token(ws, &keeper.id, 1_000);
    for t in [&worker_token, &keeper_token] {
        s.insert_token(t.clone(), audit(ws, "identity.token.create", "x"))
            .await
            .unwrap();
    }
    let seq = head_seq(s, ws).await;

    s.delete_identity(ws, &worker.id, audit(ws, "identity.delete", "identity:payments-worker"))
        .await
        .unwrap();
    assert_eq!(head_seq(s, ws).await, seq + 1);
    assert_eq!(s.identity_by_name(ws, "payments-worker").await.unwrap(), None);
    assert!(s.identity_env(&worker.id).await.unwrap().is_empty());
    assert_eq!(s.token_by_hash(&worker_token.hash).await.unwrap(), None);
    assert_eq!(s.token_with_identity(&worker_token.hash).await.unwrap(), None);
    assert!(s.list_identity_tokens(ws, &worker.id).await.unwrap().is_empty());

    // The other identity keeps everything.
    assert_eq!(s.identity_env(&keeper.id).await.unwrap().len(), 1);
    assert_eq!(
        s.token_with_identity(&keeper_token.hash).await.unwrap(),
        Some((keeper_token.clone(), keeper.clone(), acme.row.clone()))
    );
    // The name is free again.
    stored_identity(s, ws, "payments-worker").await;
    verify_chain(s, ws).await;
}

async fn policy_lifecycle(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let other = workspace(s, "other").await;
    let ws = acme.id();
    let seq = head_seq(s, ws).await;

    let read = policy(ws, "payments-read");
    let mut use_only = policy(ws, "mail-use");
    use_only.identity_names = "[]".into();
    use_only.allow = r#"["use"]"#.into();
    for p in [&read, &use_only] {
        s.insert_policy(p.clone(), audit(ws, "policy.create", &format!("policy:{}", p.name)))
            .await
            .unwrap();
    }
    assert_eq!(head_seq(s, ws).await, seq + 2);
    let err = s
        .insert_policy(policy(ws, "payments-read"), audit(ws, "policy.create", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate("policy_name")), "{err:?}");
    assert_eq!(head_seq(s, ws).await, seq + 2);
    let theirs = policy(other.id(), "payments-read");
    s.insert_policy(theirs.clone(), audit(other.id(), "policy.create", "x"))
        .await
        .unwrap();

    // By name, stored as given.
    assert_eq!(s.list_policies(ws).await.unwrap(), [use_only.clone(), read.clone()]);
    assert_eq!(
        s.list_policies(other.id()).await.unwrap(),
        std::slice::from_ref(&theirs)
    );

    let err = s
        .delete_policy(ws, &theirs.id, audit(ws, "policy.delete", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    s.delete_policy(ws, &read.id, audit(ws, "policy.delete", "policy:payments-read"))
        .await
        .unwrap();
    let err = s
        .delete_policy(ws, &read.id, audit(ws, "policy.delete", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(s.list_policies(ws).await.unwrap(), [use_only]);
    assert_eq!(s.list_policies(other.id()).await.unwrap(), [theirs]);
    assert_eq!(head_seq(s, ws).await, seq + 3);
    verify_chain(s, ws).await;
    verify_chain(s, other.id()).await;
}

async fn identity_tokens(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let other = workspace(s, "other").await;
    let ws = acme.id();
    let worker = stored_identity(s, ws, "payments-worker").await;
    let agent = stored_identity(s, ws, "agent").await;
    let stranger = stored_identity(s, other.id(), "stranger").await;
    let seq = head_seq(s, ws).await;

    let older = identity_token(ws, &worker.id, 1_000);
    let newer = identity_token(ws, &worker.id, 2_000);
    let agents = identity_token(ws, &agent.id, 3_000);
    for t in [&older, &newer, &agents] {
        s.insert_token(t.clone(), audit(ws, "identity.token.create", "x"))
            .await
            .unwrap();
    }
    assert_eq!(head_seq(s, ws).await, seq + 3);
    assert_eq!(s.token_by_hash(&newer.hash).await.unwrap(), Some(newer.clone()));

    // A token acts as a member or as an identity of its own workspace, never both.
    let mut both = identity_token(ws, &worker.id, 4_000);
    both.member_id = Some(acme.owner.id.clone());
    let err = s
        .insert_token(both.clone(), audit(ws, "token.create", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    let foreign = identity_token(ws, &stranger.id, 4_000);
    let err = s
        .insert_token(foreign.clone(), audit(ws, "identity.token.create", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(s.token_by_hash(&both.hash).await.unwrap(), None);
    assert_eq!(s.token_by_hash(&foreign.hash).await.unwrap(), None);
    assert_eq!(head_seq(s, ws).await, seq + 3);

    assert_eq!(
        s.list_identity_tokens(ws, &worker.id).await.unwrap(),
        [newer.clone(), older.clone()],
        "newest first, this identity's only"
    );
    assert!(s.list_identity_tokens(other.id(), &worker.id).await.unwrap().is_empty());
    assert!(
        s.list_tokens(ws, &acme.owner.id, "identity").await.unwrap().is_empty(),
        "not a member's"
    );

    // Revoked only by its own identity in its own workspace, once; a member's revoke does not reach it.
    let refused = [
        (ws, agent.id.as_str()),
        (other.id(), worker.id.as_str()),
        (ws, "no-such-identity"),
    ];
    for (in_ws, identity_id) in refused {
        let err = s
            .revoke_identity_token(
                in_ws,
                identity_id,
                &older.id,
                5_000,
                audit(in_ws, "identity.token.revoke", "x"),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
    }
    let err = s
        .revoke_token(ws, &acme.owner.id, &older.id, 5_000, audit(ws, "token.revoke", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(head_seq(s, ws).await, seq + 3);

    s.revoke_identity_token(
        ws,
        &worker.id,
        &older.id,
        5_000,
        audit(ws, "identity.token.revoke", "x"),
    )
    .await
    .unwrap();
    assert_eq!(head_seq(s, ws).await, seq + 4);
    assert_eq!(
        s.token_by_hash(&older.hash).await.unwrap().unwrap().revoked_at,
        Some(5_000)
    );
    assert_eq!(
        s.list_identity_tokens(ws, &worker.id).await.unwrap(),
        std::slice::from_ref(&newer)
    );
    let err = s
        .revoke_identity_token(
            ws,
            &worker.id,
            &older.id,
            6_000,
            audit(ws, "identity.token.revoke", "x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(head_seq(s, ws).await, seq + 4);

    // Revoked or used, the token comes back as stored; deciding what that means is the caller's.
    s.touch_token(&older.id, 7_000).await.unwrap();
    let (found, who, at) = s.token_with_identity(&older.hash).await.unwrap().unwrap();
    assert_eq!((found.revoked_at, found.last_used_at), (Some(5_000), Some(7_000)));
    assert_eq!((who, at), (worker, acme.row.clone()));
    verify_chain(s, ws).await;
}

async fn token_with_identity_and_token_with_member_do_not_mix(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let ws = acme.id();
    let worker = stored_identity(s, ws, "payments-worker").await;
    let editor = member(ws, "editor@example.com", "editor");
    s.insert_member(editor.clone(), audit(ws, "member.add", "x"))
        .await
        .unwrap();
    let machine = identity_token(ws, &worker.id, 1_000);
    let person = token(ws, &editor.id, "personal", 1_000);
    let mut nobody = token(ws, &editor.id, "personal", 1_000);
    nobody.member_id = None;
    for t in [&machine, &person, &nobody] {
        s.insert_token(t.clone(), audit(ws, "token.create", "x")).await.unwrap();
    }

    assert_eq!(
        s.token_with_identity(&machine.hash).await.unwrap(),
        Some((machine.clone(), worker.clone(), acme.row.clone()))
    );
    assert_eq!(s.token_with_member(&machine.hash).await.unwrap(), None);
    assert_eq!(
        s.token_with_member(&person.hash).await.unwrap(),
        Some((person.clone(), editor.clone(), acme.row.clone()))
    );
    assert_eq!(s.token_with_identity(&person.hash).await.unwrap(), None);
    assert_eq!(s.token_with_identity(&nobody.hash).await.unwrap(), None);
    assert_eq!(s.token_with_member(&nobody.hash).await.unwrap(), None);
    assert_eq!(s.token_with_identity(b"unknown").await.unwrap(), None);

    // Removing the member leaves the identity's token alone, and the other way round.
    s.delete_member(ws, &editor.id, audit(ws, "member.remove", "x"))
        .await
        .unwrap();
    assert!(s.token_with_identity(&machine.hash).await.unwrap().is_some());
    s.delete_identity(ws, &worker.id, audit(ws, "identity.delete", "x"))
        .await
        .unwrap();
    assert_eq!(s.token_with_identity(&machine.hash).await.unwrap(), None);
    assert_eq!(s.token_by_hash(&nobody.hash).await.unwrap(), Some(nobody));
}
