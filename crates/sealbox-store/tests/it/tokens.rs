use sealbox_store::StoreError;

use crate::fixtures::{audit, head_seq, member, token, workspace};
use crate::harness::Db;

conformance!(token_lifecycle, token_with_member_and_workspace);

async fn token_lifecycle(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let me = &acme.owner;
    let other = member(acme.id(), "other@example.com", "editor");
    s.insert_member(other.clone(), audit(acme.id(), "member.add", "x"))
        .await
        .unwrap();
    let seq = head_seq(s, acme.id()).await;

    let older = token(acme.id(), &me.id, "personal", 1_000);
    let newer = token(acme.id(), &me.id, "personal", 2_000);
    let session = token(acme.id(), &me.id, "session", 3_000);
    s.insert_token(older.clone(), audit(acme.id(), "token.create", "x"))
        .await
        .unwrap();
    s.insert_token(newer.clone(), audit(acme.id(), "token.create", "x"))
        .await
        .unwrap();
    s.insert_token(session.clone(), audit(acme.id(), "auth.login", "x"))
        .await
        .unwrap();
    assert_eq!(
        head_seq(s, acme.id()).await,
        seq + 3,
        "every token is written with its event"
    );

    let mut twin = token(acme.id(), &me.id, "personal", 4_000);
    twin.hash = older.hash.clone();
    let err = s
        .insert_token(twin, audit(acme.id(), "token.create", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate("token_hash")), "{err:?}");

    assert_eq!(s.token_by_hash(&newer.hash).await.unwrap(), Some(newer.clone()));
    assert_eq!(s.token_by_hash(b"unknown").await.unwrap(), None);
    let listed = s.list_tokens(acme.id(), &me.id, "personal").await.unwrap();
    assert_eq!(listed, [newer.clone(), older.clone()], "newest first, one kind");
    assert_eq!(
        s.list_tokens(acme.id(), &me.id, "session").await.unwrap(),
        std::slice::from_ref(&session)
    );
    assert!(
        s.list_tokens(acme.id(), &other.id, "personal")
            .await
            .unwrap()
            .is_empty()
    );

    // Only its owner can revoke a token, once.
    let err = s
        .revoke_token(
            acme.id(),
            &other.id,
            &older.id,
            5_000,
            audit(acme.id(), "token.revoke", "x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    s.revoke_token(
        acme.id(),
        &me.id,
        &older.id,
        5_000,
        audit(acme.id(), "token.revoke", "x"),
    )
    .await
    .unwrap();
    assert_eq!(
        s.token_by_hash(&older.hash).await.unwrap().unwrap().revoked_at,
        Some(5_000)
    );
    assert_eq!(
        s.list_tokens(acme.id(), &me.id, "personal").await.unwrap(),
        std::slice::from_ref(&newer)
    );
    let err = s
        .revoke_token(
            acme.id(),
            &me.id,
            &older.id,
            6_000,
            audit(acme.id(), "token.revoke", "x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(head_seq(s, acme.id()).await, seq + 4);

    s.touch_token(&newer.id, 7_000).await.unwrap();
    assert_eq!(
        s.token_by_hash(&newer.hash).await.unwrap().unwrap().last_used_at,
        Some(7_000)
    );
    s.touch_token("no-such-token", 7_000).await.unwrap();
    assert_eq!(head_seq(s, acme.id()).await, seq + 4, "touching is not audited");
}

async fn token_with_member_and_workspace(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let other = member(acme.id(), "other@example.com", "editor");
    s.insert_member(other.clone(), audit(acme.id(), "member.add", "x"))
        .await
        .unwrap();
    let mine = token(acme.id(), &acme.owner.id, "personal", 1_000);
    let theirs = token(acme.id(), &other.id, "session", 2_000);
    let mut memberless = token(acme.id(), &other.id, "personal", 3_000);
    memberless.member_id = None;
    for t in [&mine, &theirs, &memberless] {
        s.insert_token(t.clone(), audit(acme.id(), "token.create", "x"))
            .await
            .unwrap();
    }

    assert_eq!(
        s.token_with_member(&mine.hash).await.unwrap(),
        Some((mine.clone(), acme.owner.clone(), acme.row.clone()))
    );
    assert_eq!(
        s.token_with_member(&theirs.hash).await.unwrap(),
        Some((theirs.clone(), other.clone(), acme.row.clone()))
    );
    assert_eq!(s.token_with_member(b"unknown").await.unwrap(), None);
    assert_eq!(
        s.token_with_member(&memberless.hash).await.unwrap(),
        None,
        "a token without a member"
    );

    // Revoked or used, the token comes back as stored; deciding what that means is the caller's.
    s.revoke_token(
        acme.id(),
        &acme.owner.id,
        &mine.id,
        5_000,
        audit(acme.id(), "token.revoke", "x"),
    )
    .await
    .unwrap();
    s.touch_token(&mine.id, 6_000).await.unwrap();
    let (found, ..) = s.token_with_member(&mine.hash).await.unwrap().unwrap();
    assert_eq!((found.revoked_at, found.last_used_at), (Some(5_000), Some(6_000)));

    s.delete_member(acme.id(), &other.id, audit(acme.id(), "member.remove", "x"))
        .await
        .unwrap();
    assert_eq!(s.token_with_member(&theirs.hash).await.unwrap(), None);
}
