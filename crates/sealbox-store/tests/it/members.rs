use sealbox_store::StoreError;

use crate::fixtures::{audit, head_seq, member, token, workspace};
use crate::harness::Db;

conformance!(
    insert_and_duplicate_email,
    role_change_keeps_an_owner,
    delete_keeps_an_owner_and_removes_tokens
);

async fn insert_and_duplicate_email(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let other = workspace(s, "other").await;
    let editor = member(acme.id(), "editor@example.com", "editor");
    s.insert_member(
        editor.clone(),
        audit(acme.id(), "member.add", "member:editor@example.com"),
    )
    .await
    .unwrap();
    assert_eq!(s.member_by_id(&editor.id).await.unwrap(), Some(editor.clone()));
    assert_eq!(
        s.member_by_email(acme.id(), "editor@example.com").await.unwrap(),
        Some(editor.clone())
    );
    assert_eq!(s.member_by_email(other.id(), "editor@example.com").await.unwrap(), None);

    let twin = member(acme.id(), "editor@example.com", "admin");
    let err = s
        .insert_member(twin.clone(), audit(acme.id(), "member.add", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate("member_email")), "{err:?}");
    assert_eq!(s.member_by_id(&twin.id).await.unwrap(), None);
    assert_eq!(head_seq(s, acme.id()).await, 2);

    // The same e-mail in another workspace is another member.
    let elsewhere = member(other.id(), "editor@example.com", "editor");
    s.insert_member(elsewhere.clone(), audit(other.id(), "member.add", "x"))
        .await
        .unwrap();

    let emails: Vec<_> = s
        .list_members(acme.id())
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.email)
        .collect();
    assert_eq!(emails, ["editor@example.com", "owner@example.com"]);
    assert_eq!(s.list_members(other.id()).await.unwrap().len(), 2);
}

async fn role_change_keeps_an_owner(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let other = workspace(s, "other").await;
    let owner = &acme.owner;
    let role = |m: &str| {
        let m = m.to_owned();
        async move { s.member_by_id(&m).await.unwrap().unwrap().role }
    };

    let err = s
        .set_member_role(acme.id(), &owner.id, "admin", audit(acme.id(), "member.role", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LastOwner), "{err:?}");
    assert_eq!(role(&owner.id).await, "owner");
    // Setting the only owner's role to owner changes nothing but is allowed.
    s.set_member_role(acme.id(), &owner.id, "owner", audit(acme.id(), "member.role", "x"))
        .await
        .unwrap();

    let second = member(acme.id(), "second@example.com", "editor");
    s.insert_member(second.clone(), audit(acme.id(), "member.add", "x"))
        .await
        .unwrap();
    s.set_member_role(acme.id(), &second.id, "owner", audit(acme.id(), "member.role", "x"))
        .await
        .unwrap();
    assert_eq!(role(&second.id).await, "owner");
    s.set_member_role(acme.id(), &owner.id, "editor", audit(acme.id(), "member.role", "x"))
        .await
        .unwrap();
    assert_eq!(role(&owner.id).await, "editor");
    let err = s
        .set_member_role(acme.id(), &second.id, "admin", audit(acme.id(), "member.role", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LastOwner), "{err:?}");

    // A member is only found in their own workspace.
    let err = s
        .set_member_role(other.id(), &second.id, "editor", audit(other.id(), "member.role", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let err = s
        .set_member_role(
            acme.id(),
            "no-such-member",
            "editor",
            audit(acme.id(), "member.role", "x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    // create + add + 3 role changes; the refused ones left no event.
    assert_eq!(head_seq(s, acme.id()).await, 5);
}

async fn delete_keeps_an_owner_and_removes_tokens(db: Db) {
    let s = &*db.store;
    let acme = workspace(s, "acme").await;
    let err = s
        .delete_member(acme.id(), &acme.owner.id, audit(acme.id(), "member.remove", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LastOwner), "{err:?}");
    assert!(s.member_by_id(&acme.owner.id).await.unwrap().is_some());

    let admin = member(acme.id(), "admin@example.com", "admin");
    s.insert_member(admin.clone(), audit(acme.id(), "member.add", "x"))
        .await
        .unwrap();
    let personal = token(acme.id(), &admin.id, "personal", 1_000);
    let session = token(acme.id(), &admin.id, "session", 1_000);
    s.insert_token(personal.clone(), audit(acme.id(), "token.create", "x"))
        .await
        .unwrap();
    s.insert_token(session.clone(), audit(acme.id(), "auth.login", "x"))
        .await
        .unwrap();

    let err = s
        .delete_member(
            "other-workspace",
            &admin.id,
            audit("other-workspace", "member.remove", "x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    s.delete_member(acme.id(), &admin.id, audit(acme.id(), "member.remove", "x"))
        .await
        .unwrap();
    assert_eq!(s.member_by_id(&admin.id).await.unwrap(), None);
    assert_eq!(s.token_by_hash(&personal.hash).await.unwrap(), None);
    assert_eq!(s.token_by_hash(&session.hash).await.unwrap(), None);
    let err = s
        .delete_member(acme.id(), &admin.id, audit(acme.id(), "member.remove", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");

    // With a second owner, an owner may go.
    let second = member(acme.id(), "second@example.com", "owner");
    s.insert_member(second.clone(), audit(acme.id(), "member.add", "x"))
        .await
        .unwrap();
    s.delete_member(acme.id(), &acme.owner.id, audit(acme.id(), "member.remove", "x"))
        .await
        .unwrap();
    let left: Vec<_> = s
        .list_members(acme.id())
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(left, [second.id]);
}
