//! Rows to store, and the audit chain check.

use sealbox_store::{
    AuditEventRow, AuditFilter, AuditRecord, GENESIS_HASH, IdentityRow, MemberRow, PolicyRow, SealNewVersion,
    SealedValue, SecretRow, SecretUpdate, SecretVersionRow, Store, TokenRow, WorkspaceRow, chain_hash,
};

/// The key every test store seals its audit chain with.
pub fn chain_key() -> sealbox_store::AuditChainKey {
    sealbox_store::AuditChainKey::new([42; 32])
}

pub fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn audit(workspace_id: &str, action: &str, target: &str) -> AuditRecord {
    AuditRecord {
        workspace_id: workspace_id.into(),
        at: 1_000,
        actor: "member:owner@example.com".into(),
        action: action.into(),
        target: target.into(),
        outcome: "success".into(),
        request_id: id(),
        client_addr: "127.0.0.1".into(),
        detail: "{}".into(),
    }
}

pub struct Ws {
    pub row: WorkspaceRow,
    pub owner: MemberRow,
}

impl Ws {
    pub fn id(&self) -> &str {
        &self.row.id
    }
}

/// Creates a workspace with its owner (`owner@example.com`); its audit chain then holds one event.
pub async fn workspace(store: &dyn Store, name: &str) -> Ws {
    let row = WorkspaceRow {
        id: id(),
        name: name.into(),
        created_at: 1_000,
    };
    let owner = member(&row.id, "owner@example.com", "owner");
    let event = audit(&row.id, "workspace.create", &format!("workspace:{name}"));
    store
        .create_workspace(row.clone(), owner.clone(), None, event)
        .await
        .unwrap();
    Ws { row, owner }
}

pub fn member(workspace_id: &str, email: &str, role: &str) -> MemberRow {
    MemberRow {
        id: id(),
        workspace_id: workspace_id.into(),
        email: email.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
        role: role.into(),
        created_at: 1_000,
    }
}

pub fn token(workspace_id: &str, member_id: &str, kind: &str, created_at: i64) -> TokenRow {
    TokenRow {
        id: id(),
        workspace_id: workspace_id.into(),
        kind: kind.into(),
        member_id: Some(member_id.into()),
        identity_id: None,
        name: format!("{kind} token"),
        hash: uuid::Uuid::new_v4().as_bytes().to_vec(),
        created_at,
        expires_at: Some(created_at + 3_600_000),
        revoked_at: None,
        last_used_at: None,
        prefix: Some("abcdEF-_".into()),
    }
}

/// A token of `identity_id` (kind `identity`).
pub fn identity_token(workspace_id: &str, identity_id: &str, created_at: i64) -> TokenRow {
    TokenRow {
        member_id: None,
        identity_id: Some(identity_id.into()),
        name: "ci token".into(),
        ..token(workspace_id, "", "identity", created_at)
    }
}

pub fn identity(workspace_id: &str, name: &str, tags: &str) -> IdentityRow {
    IdentityRow {
        id: id(),
        workspace_id: workspace_id.into(),
        name: name.into(),
        tags: tags.into(),
        created_at: 1_000,
        created_by: "member:owner@example.com".into(),
    }
}

/// Stores identity `name` with tags `{"team":"payments"}`.
pub async fn stored_identity(store: &dyn Store, workspace_id: &str, name: &str) -> IdentityRow {
    let row = identity(workspace_id, name, r#"{"team":"payments"}"#);
    store
        .insert_identity(row.clone(), audit(workspace_id, "identity.create", name))
        .await
        .unwrap();
    row
}

pub fn policy(workspace_id: &str, name: &str) -> PolicyRow {
    PolicyRow {
        id: id(),
        workspace_id: workspace_id.into(),
        name: name.into(),
        identity_names: r#"["payments-worker"]"#.into(),
        identity_tags: r#"{"team":"payments"}"#.into(),
        secret_tags: r#"{"team":"payments"}"#.into(),
        allow: r#"["read"]"#.into(),
        created_at: 1_000,
        created_by: "member:owner@example.com".into(),
    }
}

pub fn secret(workspace_id: &str, name: &str, secret_type: &str) -> (SecretRow, SecretVersionRow) {
    let row = SecretRow {
        id: id(),
        workspace_id: workspace_id.into(),
        name: name.into(),
        secret_type: secret_type.into(),
        visibility: "workspace".into(),
        description: "first".into(),
        metadata: "{}".into(),
        tags: "[]".into(),
        details: "{}".into(),
        current_version: 1,
        created_at: 1_000,
        created_by: "member:owner@example.com".into(),
        updated_at: 1_000,
        updated_by: "member:owner@example.com".into(),
        last_used_at: None,
        last_used_by: None,
        deleted_at: None,
        deleted_by: None,
    };
    let first = version(&row.id, 1);
    (row, first)
}

/// Sealed bytes are opaque to the store: these just differ per version.
pub fn version(secret_id: &str, version: i64) -> SecretVersionRow {
    SecretVersionRow {
        secret_id: secret_id.into(),
        version,
        ciphertext: vec![version as u8; 24],
        wrapped_dek: vec![0xd0 + version as u8; 40],
        key_version: 1,
        created_at: 1_000 + version,
        created_by: "member:owner@example.com".into(),
    }
}

/// Stores secrets `names` (type `text`) in the workspace.
pub async fn secrets(store: &dyn Store, workspace_id: &str, names: &[&str]) -> Vec<SecretRow> {
    let mut rows = Vec::new();
    for name in names {
        let (row, first) = secret(workspace_id, name, "text");
        store
            .insert_secret(row.clone(), first, audit(workspace_id, "secret.create", name))
            .await
            .unwrap();
        rows.push(row);
    }
    rows
}

/// An update of `secret` from `expected` that sets its description to `description` and, with
/// `new_value`, adds version `expected + 1` (sealed as [`version`] would make it).
pub fn update(secret: &SecretRow, expected: i64, description: &str, new_value: bool) -> SecretUpdate {
    SecretUpdate {
        secret_id: secret.id.clone(),
        workspace_id: secret.workspace_id.clone(),
        expected_current_version: Some(expected),
        new_value: new_value.then(|| sealer(&secret.id)),
        description: Some(description.into()),
        metadata: Some(r#"{"owner":"ops"}"#.into()),
        tags: Some(r#"["prod"]"#.into()),
        details: Some("{}".into()),
        updated_at: 2_000,
        updated_by: "member:editor@example.com".into(),
    }
}

/// Seals like [`version`] for whatever number the store assigns.
pub fn sealer(secret_id: &str) -> SealNewVersion {
    let secret_id = secret_id.to_owned();
    Box::new(move |n| {
        let v = version(&secret_id, n);
        Ok(SealedValue {
            ciphertext: v.ciphertext,
            wrapped_dek: v.wrapped_dek,
            key_version: v.key_version,
        })
    })
}

pub fn all() -> AuditFilter {
    AuditFilter::default()
}

/// Reads the workspace's whole audit log and checks it is a gapless chain from seq 1 that ends
/// at the recorded head. Returns the events.
pub async fn verify_chain(store: &dyn Store, workspace_id: &str) -> Vec<AuditEventRow> {
    let events = store.list_audit(workspace_id, &all()).await.unwrap();
    let mut prev = GENESIS_HASH.to_vec();
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.seq, i as i64 + 1, "gap in the chain");
        assert_eq!(event.record.workspace_id, workspace_id);
        assert_eq!(
            event.prev_hash, prev,
            "event {} does not link to its predecessor",
            event.seq
        );
        assert_eq!(
            event.hash,
            chain_hash(&chain_key(), &prev, event.seq, &event.record),
            "event {} hash",
            event.seq
        );
        prev = event.hash.clone();
    }
    let head = store.audit_head(workspace_id).await.unwrap();
    assert_eq!(
        head,
        events.last().map(|e| (e.seq, e.hash.clone())),
        "head is not the last event"
    );
    events
}

/// The workspace's current chain length.
pub async fn head_seq(store: &dyn Store, workspace_id: &str) -> i64 {
    store.audit_head(workspace_id).await.unwrap().map_or(0, |(seq, _)| seq)
}
