//! The audit hash chain: each event's hash covers the previous event's hash, its own sequence
//! number and every field of its record, so editing, inserting or removing an event breaks the
//! chain from that point on.

use sha2::{Digest, Sha256};

use crate::AuditRecord;

/// The `prev_hash` of a workspace's first event.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// `SHA-256(prev_hash || seq || each field, length-prefixed)`.
pub fn chain_hash(prev_hash: &[u8], seq: i64, record: &AuditRecord) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(b"sealbox-audit-v1");
    hasher.update(prev_hash);
    hasher.update(seq.to_be_bytes());
    hasher.update(record.at.to_be_bytes());
    for field in [
        &record.workspace_id,
        &record.actor,
        &record.action,
        &record.target,
        &record.outcome,
        &record.request_id,
        &record.client_addr,
        &record.detail,
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AuditRecord {
        AuditRecord {
            workspace_id: "w".into(),
            at: 1,
            actor: "member:a@example.com".into(),
            action: "secret.create".into(),
            target: "secret:API_KEY".into(),
            outcome: "success".into(),
            request_id: "r".into(),
            client_addr: "127.0.0.1".into(),
            detail: "{}".into(),
        }
    }

    #[test]
    fn every_field_and_the_link_change_the_hash() {
        let base = chain_hash(&GENESIS_HASH, 1, &record());
        assert_ne!(base, chain_hash(&[1; 32], 1, &record()));
        assert_ne!(base, chain_hash(&GENESIS_HASH, 2, &record()));
        let mut edited = record();
        edited.target = "secret:API_KEY2".into();
        assert_ne!(base, chain_hash(&GENESIS_HASH, 1, &edited));
        // Length prefixes keep field boundaries: moving a character between fields changes the hash.
        let mut shifted = record();
        shifted.actor = "member:a@example.coms".into();
        shifted.action = "ecret.create".into();
        assert_ne!(base, chain_hash(&GENESIS_HASH, 1, &shifted));
    }
}
