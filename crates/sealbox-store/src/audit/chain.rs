//! The audit hash chain: each event's hash covers the previous event's hash, its own sequence
//! number and every field of its record, so editing, inserting or removing an event breaks the
//! chain from that point on. The hash is keyed (HMAC-SHA256 with a key derived from the root
//! key), so someone who can write to the database but does not hold the key cannot recompute a
//! chain that verifies.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::AuditRecord;

/// The key of the audit chain's HMAC. Its `Debug` shows nothing of it; zeroised when its last
/// clone is dropped.
#[derive(Clone)]
pub struct AuditChainKey(Arc<zeroize::Zeroizing<[u8; 32]>>);

impl AuditChainKey {
    pub fn new(key: [u8; 32]) -> Self {
        Self(Arc::new(zeroize::Zeroizing::new(key)))
    }
}

/// The chain key a store seals events with, shared by its clones: set at unseal, removed when the
/// server is sealed (see `Store::use_audit_chain_key`).
#[derive(Clone)]
pub(crate) struct ChainKeyCell(Arc<std::sync::RwLock<Option<AuditChainKey>>>);

impl ChainKeyCell {
    /// `None` while the server is sealed: no event can be appended until the key is set.
    pub(crate) fn new(key: Option<AuditChainKey>) -> Self {
        Self(Arc::new(std::sync::RwLock::new(key)))
    }

    pub(crate) fn get(&self) -> Option<AuditChainKey> {
        match self.0.read() {
            Ok(key) => key.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// `None` when the server is sealed again.
    pub(crate) fn set(&self, key: Option<AuditChainKey>) {
        match self.0.write() {
            Ok(mut held) => *held = key,
            Err(poisoned) => *poisoned.into_inner() = key,
        }
    }
}

impl std::fmt::Debug for AuditChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditChainKey([redacted])")
    }
}

/// The `prev_hash` of a workspace's first event.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// `HMAC-SHA256(key, prev_hash || seq || each field, length-prefixed)`.
pub fn chain_hash(key: &AuditChainKey, prev_hash: &[u8], seq: i64, record: &AuditRecord) -> Vec<u8> {
    let mut hasher = hmac(key);
    hasher.update(b"sealbox-audit-v1");
    hasher.update(prev_hash);
    hasher.update(&seq.to_be_bytes());
    hash_record(&mut hasher, record);
    hasher.finalize().into_bytes().to_vec()
}

/// The MAC of an event waiting to be sealed into its chain (a row of `audit_pending`):
/// `HMAC-SHA256(key, each field, length-prefixed)` under its own label, so it can never pass for
/// a chain hash. The chainer seals only events whose MAC matches: one inserted or edited by
/// someone who can write to the database but does not hold the key is left out, and reported.
pub fn pending_mac(key: &AuditChainKey, record: &AuditRecord) -> Vec<u8> {
    let mut hasher = hmac(key);
    hasher.update(b"sealbox-audit-pending-v1");
    hash_record(&mut hasher, record);
    hasher.finalize().into_bytes().to_vec()
}

fn hmac(key: &AuditChainKey) -> Hmac<Sha256> {
    // A 32-byte key is always a valid HMAC key; the fallback is never taken.
    <Hmac<Sha256> as Mac>::new_from_slice(key.0.as_slice())
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()))
}

fn hash_record(hasher: &mut Hmac<Sha256>, record: &AuditRecord) {
    hasher.update(&record.at.to_be_bytes());
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
        hasher.update(&(field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
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
        let key = AuditChainKey::new([7; 32]);
        let chain_hash = |prev: &[u8], seq, r: &AuditRecord| chain_hash(&key, prev, seq, r);
        let base = chain_hash(&GENESIS_HASH, 1, &record());
        assert_ne!(
            base,
            super::chain_hash(&AuditChainKey::new([8; 32]), &GENESIS_HASH, 1, &record()),
            "keyed"
        );
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

    #[test]
    fn a_pending_mac_is_keyed_covers_every_field_and_is_no_chain_hash() {
        let key = AuditChainKey::new([7; 32]);
        let mac = pending_mac(&key, &record());
        assert_eq!(mac, pending_mac(&key, &record()));
        assert_ne!(mac, pending_mac(&AuditChainKey::new([8; 32]), &record()), "keyed");
        let mut edited = record();
        edited.detail = "{\"x\":1}".into();
        assert_ne!(mac, pending_mac(&key, &edited));
        assert_ne!(mac, chain_hash(&key, &[], 0, &record()));
    }
}
