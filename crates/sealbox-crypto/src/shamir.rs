//! Shamir's secret sharing over GF(2^8), byte by byte: how `--seal shamir` splits the root key
//! into `shares` of which any `threshold` rebuild it, and fewer reveal nothing about it.
//!
//! The field is the AES one (x^8 + x^4 + x^3 + x + 1, FIPS-197 section 4.2), so its arithmetic is
//! checked against the standard's own vectors. Every secret byte `s` gets its own random
//! polynomial `p(x) = s + a1 x + ... + a(t-1) x^(t-1)`; share `i` holds `x = i` (1..=255) and
//! `p(i)` for each byte. Field operations do not branch on or index by secret data.
//!
//! A share is written as lowercase hex of `x || p(x)...`. Combining checks only the form of the
//! shares (same length, distinct non-zero `x`): a wrong share of the right form gives a wrong
//! secret, which the caller detects with the root key's check value.

use std::fmt;

use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretBox, SecretSlice, SecretString};
use zeroize::Zeroizing;

use crate::{KEY_LEN, Key, RootKey};

/// Why shares could not be made or combined; never says anything about a share's value.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShamirError {
    #[error("the threshold must be at least 2 and at most the number of shares (at most 255)")]
    InvalidThreshold,
    #[error("nothing to split")]
    EmptySecret,
    #[error("not a key share: expected the hex text `sealbox operator init` printed")]
    MalformedShare,
    #[error("the shares do not belong together: they have different lengths")]
    LengthMismatch,
    #[error("the same share was given twice")]
    DuplicateShare,
    #[error("no shares given")]
    NoShares,
}

/// One share: its `x` and the polynomials' values there. Redacted Debug, zeroized on drop.
pub struct Share {
    x: u8,
    y: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Share([redacted])")
    }
}

impl Share {
    /// How many bytes of secret the share carries (a root key's share: 32).
    pub fn secret_len(&self) -> usize {
        self.y.len()
    }

    /// The share's number (1..=255), safe to show ("share 3").
    pub fn number(&self) -> u8 {
        self.x
    }

    /// Lowercase hex of `x || y`, for printing once to the person who keeps it.
    pub fn encode(&self) -> SecretString {
        let mut text = String::with_capacity(2 * (1 + self.y.len()));
        for byte in std::iter::once(&self.x).chain(self.y.iter()) {
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        SecretString::from(text)
    }

    /// Reads what [`Share::encode`] wrote; surrounding whitespace and upper case are accepted.
    pub fn from_encoded(encoded: &str) -> Result<Share, ShamirError> {
        let text = encoded.trim().as_bytes();
        if text.len() < 4 || !text.len().is_multiple_of(2) {
            return Err(ShamirError::MalformedShare);
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(text.len() / 2));
        for pair in text.chunks_exact(2) {
            let high = hex_digit(pair[0]).ok_or(ShamirError::MalformedShare)?;
            let low = hex_digit(pair[1]).ok_or(ShamirError::MalformedShare)?;
            bytes.push((high << 4) | low);
        }
        let x = bytes[0];
        if x == 0 {
            return Err(ShamirError::MalformedShare);
        }
        Ok(Share {
            x,
            y: Zeroizing::new(bytes[1..].to_vec()),
        })
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Splits `secret` into `shares` shares (numbered 1..=shares), any `threshold` of which rebuild it.
pub fn split(secret: &[u8], shares: u8, threshold: u8) -> Result<Vec<Share>, ShamirError> {
    if threshold < 2 || threshold > shares {
        return Err(ShamirError::InvalidThreshold);
    }
    if secret.is_empty() {
        return Err(ShamirError::EmptySecret);
    }
    // Per secret byte, its coefficients a1..a(t-1).
    let degree = usize::from(threshold - 1);
    let mut coefficients = Zeroizing::new(vec![0u8; secret.len() * degree]);
    OsRng.fill_bytes(&mut coefficients);
    Ok(split_with(secret, shares, &coefficients, degree))
}

/// `split` with the coefficients given (`degree` per secret byte, lowest power first).
fn split_with(secret: &[u8], shares: u8, coefficients: &[u8], degree: usize) -> Vec<Share> {
    (1..=shares)
        .map(|x| {
            let y = secret
                .iter()
                .zip(coefficients.chunks_exact(degree))
                .map(|(&s, a)| {
                    // Horner: ((a(t-1) x + a(t-2)) x + ... + a1) x + s.
                    let high = a.iter().rev().fold(0u8, |acc, &c| mul(acc, x) ^ c);
                    mul(high, x) ^ s
                })
                .collect();
            Share {
                x,
                y: Zeroizing::new(y),
            }
        })
        .collect()
}

/// Rebuilds the secret from shares (the threshold's worth; more is fine). Only their form is
/// checked: shares of another secret, or fewer than the threshold, give a wrong secret.
pub fn combine(shares: &[Share]) -> Result<SecretSlice<u8>, ShamirError> {
    let first = shares.first().ok_or(ShamirError::NoShares)?;
    let len = first.y.len();
    if shares.iter().any(|s| s.y.len() != len) {
        return Err(ShamirError::LengthMismatch);
    }
    for (i, a) in shares.iter().enumerate() {
        if shares[i + 1..].iter().any(|b| b.x == a.x) {
            return Err(ShamirError::DuplicateShare);
        }
    }
    let mut secret = vec![0u8; len];
    for share in shares {
        // The Lagrange basis polynomial of this share at 0: prod x_j / (x_j - x_i).
        let basis = shares
            .iter()
            .filter(|other| other.x != share.x)
            .fold(1u8, |acc, other| mul(acc, mul(other.x, inverse(other.x ^ share.x))));
        for (out, &y) in secret.iter_mut().zip(share.y.iter()) {
            *out ^= mul(y, basis);
        }
    }
    Ok(SecretSlice::from(secret))
}

/// Shares given one at a time until the threshold (`sealbox operator unseal`, from one person or
/// several). At the threshold it combines them and starts again empty, whatever the result: a
/// wrong key is then detected by the caller (the root key's check value) with nothing kept.
pub struct ShareCollector {
    threshold: u8,
    shares: Vec<Share>,
}

impl fmt::Debug for ShareCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShareCollector({} of {})", self.given(), self.threshold)
    }
}

/// What adding a share led to.
pub enum Collected {
    /// More shares are needed: `given` of `threshold`.
    Progress { given: u8, threshold: u8 },
    /// The threshold was reached: the combined secret (right only if every share was).
    Complete(SecretSlice<u8>),
}

impl ShareCollector {
    pub fn new(threshold: u8) -> Result<Self, ShamirError> {
        if threshold < 2 {
            return Err(ShamirError::InvalidThreshold);
        }
        Ok(Self {
            threshold,
            shares: Vec::new(),
        })
    }

    /// How many shares are held now.
    pub fn given(&self) -> u8 {
        u8::try_from(self.shares.len()).unwrap_or(u8::MAX)
    }

    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// Adds `share`. A share given before, or one of another length than those held, is refused
    /// and the progress kept.
    pub fn add(&mut self, share: Share) -> Result<Collected, ShamirError> {
        if self.shares.iter().any(|held| held.x == share.x) {
            return Err(ShamirError::DuplicateShare);
        }
        if self.shares.first().is_some_and(|held| held.y.len() != share.y.len()) {
            return Err(ShamirError::LengthMismatch);
        }
        self.shares.push(share);
        if self.given() < self.threshold {
            return Ok(Collected::Progress {
                given: self.given(),
                threshold: self.threshold,
            });
        }
        let shares = std::mem::take(&mut self.shares);
        combine(&shares).map(Collected::Complete)
    }

    /// Forgets every share held (zeroised).
    pub fn reset(&mut self) {
        self.shares.clear();
    }
}

/// Splits a root key (its 32 bytes) into shares, for `sealbox operator init --key-shares`.
pub fn split_root_key(root: &RootKey, shares: u8, threshold: u8) -> Result<Vec<Share>, ShamirError> {
    // EXPOSE: the key's bytes go only into the share polynomials.
    split(root.key.expose_secret(), shares, threshold)
}

/// The root key `version` from what [`ShareCollector`] completed. Shares of another size are
/// refused; shares of the right size but wrong give a key that fails its check value.
pub fn root_key_from_combined(version: u32, combined: &SecretSlice<u8>) -> Result<RootKey, ShamirError> {
    let bytes = combined.expose_secret();
    if bytes.len() != KEY_LEN {
        return Err(ShamirError::LengthMismatch);
    }
    let key = SecretBox::init_with_mut(|k: &mut Key| k.copy_from_slice(bytes));
    Ok(RootKey { version, key })
}

/// Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1, without branches on the operands.
fn mul(a: u8, b: u8) -> u8 {
    let (mut a, mut b, mut product) = (a, b, 0u8);
    for _ in 0..8 {
        product ^= a & 0u8.wrapping_sub(b & 1);
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (0x1b & carry);
        b >>= 1;
    }
    product
}

/// The multiplicative inverse, as a^254 (0 for 0, never asked for here).
fn inverse(a: u8) -> u8 {
    let mut result = 1u8;
    let mut power = a;
    let mut exponent = 254u8;
    for _ in 0..8 {
        let factor = mul(result, power);
        let take = 0u8.wrapping_sub(exponent & 1);
        result = (factor & take) | (result & !take);
        power = mul(power, power);
        exponent >>= 1;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_arithmetic_matches_the_fips_197_vectors() {
        // FIPS-197 section 4.2: {57} x {83} = {c1}; section 4.2.1: {57} x {13} = {fe}.
        assert_eq!(mul(0x57, 0x83), 0xc1);
        assert_eq!(mul(0x57, 0x13), 0xfe);
        // Section 5.1.1's example: the inverse of {53} is {ca}.
        assert_eq!(inverse(0x53), 0xca);
        for a in 1..=255u8 {
            assert_eq!(mul(a, inverse(a)), 1, "{a:#04x}");
        }
    }

    #[test]
    fn a_hand_computed_polynomial_gives_the_expected_shares() {
        // p(x) = 0x2a + 0x01 x: p(1) = 0x2b, p(2) = 0x28, p(3) = 0x29.
        let shares = split_with(&[0x2a], 3, &[0x01], 1);
        let ys: Vec<u8> = shares.iter().map(|s| s.y[0]).collect();
        assert_eq!(ys, [0x2b, 0x28, 0x29]);
        // p(x) = 0x00 + 0x57 x + 0x83 x^2 at x = 2: {57}{02} ^ {83}{04}.
        let shares = split_with(&[0x00], 2, &[0x57, 0x83], 2);
        assert_eq!(shares[1].y[0], mul(0x57, 2) ^ mul(0x83, 4));
    }

    #[test]
    fn any_threshold_of_shares_rebuilds_the_secret_and_fewer_do_not() {
        let secret: Vec<u8> = (0..32).map(|i| i * 7 + 3).collect();
        let shares = split(&secret, 5, 3).unwrap();
        assert_eq!(shares.iter().map(Share::number).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        let pick = |idx: &[usize]| -> Vec<Share> {
            idx.iter()
                .map(|&i| Share::from_encoded(shares[i].encode().expose_secret()).unwrap())
                .collect()
        };
        for idx in [[0, 1, 2], [4, 2, 0], [1, 3, 4], [2, 3, 4]] {
            assert_eq!(combine(&pick(&idx)).unwrap().expose_secret(), &secret[..], "{idx:?}");
        }
        assert_eq!(combine(&pick(&[0, 1, 2, 3, 4])).unwrap().expose_secret(), &secret[..]);
        assert_ne!(combine(&pick(&[0, 1])).unwrap().expose_secret(), &secret[..]);
    }

    #[test]
    fn a_changed_share_gives_another_secret() {
        let secret = [9u8; 32];
        let shares = split(&secret, 3, 2).unwrap();
        let mut text = shares[1].encode().expose_secret().to_owned();
        let last = if text.ends_with('0') { "1" } else { "0" };
        text.replace_range(text.len() - 1.., last);
        let wrong = [
            Share::from_encoded(shares[0].encode().expose_secret()).unwrap(),
            Share::from_encoded(&text).unwrap(),
        ];
        assert_ne!(combine(&wrong).unwrap().expose_secret(), &secret[..]);
    }

    #[test]
    fn bad_parameters_and_malformed_shares_are_refused() {
        assert_eq!(split(&[1], 5, 1).unwrap_err(), ShamirError::InvalidThreshold);
        assert_eq!(split(&[1], 2, 3).unwrap_err(), ShamirError::InvalidThreshold);
        assert_eq!(split(&[], 3, 2).unwrap_err(), ShamirError::EmptySecret);
        for bad in ["", "0", "zz11", "00aa", "abc"] {
            assert_eq!(
                Share::from_encoded(bad).unwrap_err(),
                ShamirError::MalformedShare,
                "{bad:?}"
            );
        }
        let a = Share::from_encoded("01aabb").unwrap();
        let b = Share::from_encoded("01AABB\n").unwrap();
        assert_eq!(combine(&[a, b]).unwrap_err(), ShamirError::DuplicateShare);
        let a = Share::from_encoded("01aabb").unwrap();
        let c = Share::from_encoded("02aa").unwrap();
        assert_eq!(combine(&[a, c]).unwrap_err(), ShamirError::LengthMismatch);
        assert_eq!(combine(&[]).unwrap_err(), ShamirError::NoShares);
    }

    fn copy(share: &Share) -> Share {
        Share::from_encoded(share.encode().expose_secret()).unwrap()
    }

    #[test]
    fn a_collector_shows_progress_and_completes_at_the_threshold_from_any_people() {
        let secret = [42u8; 32];
        let shares = split(&secret, 5, 3).unwrap();
        let mut collector = ShareCollector::new(3).unwrap();
        assert!(matches!(
            collector.add(copy(&shares[4])).unwrap(),
            Collected::Progress { given: 1, threshold: 3 }
        ));
        // The same share again (a second person pasting the first one's) changes nothing.
        assert_eq!(collector.add(copy(&shares[4])).err(), Some(ShamirError::DuplicateShare));
        assert_eq!(
            collector.add(Share::from_encoded("0aff").unwrap()).err(),
            Some(ShamirError::LengthMismatch)
        );
        assert!(matches!(
            collector.add(copy(&shares[1])).unwrap(),
            Collected::Progress { given: 2, threshold: 3 }
        ));
        let Collected::Complete(key) = collector.add(copy(&shares[2])).unwrap() else {
            panic!("the third share completes");
        };
        assert_eq!(key.expose_secret(), &secret[..]);
        assert_eq!(collector.given(), 0, "nothing is kept after the threshold");
        assert_eq!(format!("{collector:?}"), "ShareCollector(0 of 3)");
    }

    #[test]
    fn a_wrong_share_gives_another_secret_at_the_threshold_and_nothing_is_kept() {
        let secret = [7u8; 32];
        let shares = split(&secret, 3, 2).unwrap();
        let other = split(&[8u8; 32], 3, 2).unwrap();
        let mut collector = ShareCollector::new(2).unwrap();
        collector.add(copy(&shares[0])).unwrap();
        let Collected::Complete(key) = collector.add(copy(&other[1])).unwrap() else {
            panic!("two shares complete");
        };
        assert_ne!(key.expose_secret(), &secret[..]);
        assert_eq!(collector.given(), 0);
        // The right shares then work from the start.
        collector.add(copy(&shares[2])).unwrap();
        let Collected::Complete(key) = collector.add(copy(&shares[1])).unwrap() else {
            panic!("two shares complete");
        };
        assert_eq!(key.expose_secret(), &secret[..]);
        collector.add(copy(&shares[0])).unwrap();
        collector.reset();
        assert_eq!(collector.given(), 0);
        assert_eq!(
            ShareCollector::new(1).err().map(|e| e.to_string()),
            Some(ShamirError::InvalidThreshold.to_string())
        );
    }

    #[test]
    fn a_root_key_split_and_collected_passes_its_check_value_and_a_wrong_share_fails_it() {
        let root = RootKey::generate(1);
        let check = root.check_value();
        let shares = split_root_key(&root, 5, 3).unwrap();
        let mut collector = ShareCollector::new(3).unwrap();
        let mut complete = |picked: [&Share; 3]| {
            let mut last = None;
            for share in picked {
                last = Some(collector.add(copy(share)).unwrap());
            }
            let Some(Collected::Complete(combined)) = last else {
                panic!("three shares complete");
            };
            root_key_from_combined(1, &combined).unwrap()
        };
        assert!(
            complete([&shares[0], &shares[3], &shares[4]])
                .verify_check_value(&check)
                .is_ok()
        );
        let foreign = split_root_key(&RootKey::generate(1), 5, 3).unwrap();
        assert!(matches!(
            complete([&shares[0], &shares[1], &foreign[2]]).verify_check_value(&check),
            Err(crate::CryptoError::WrongRootKey)
        ));
        let short = SecretSlice::from(vec![1u8; 16]);
        assert_eq!(
            root_key_from_combined(1, &short).err(),
            Some(ShamirError::LengthMismatch)
        );
    }

    #[test]
    fn debug_never_shows_a_share() {
        let share = Share::from_encoded("01aabbccdd").unwrap();
        assert_eq!(format!("{share:?}"), "Share([redacted])");
    }
}
