//! `ssh_key`: `{private_key, public_key, passphrase}`. The private key must parse as an OpenSSH
//! private key (`-----BEGIN OPENSSH PRIVATE KEY-----`, what `ssh-keygen` writes); an encrypted
//! one is checked against its `passphrase` when one is given. The public key is derived from the
//! private key when omitted (a given one must match it) and is a public detail; the private key
//! and the passphrase are the secret part.

use sealbox_types::SecretType;
use serde_json::{Value, json};
use ssh_key::{PrivateKey, PublicKey};

use super::{Description, FieldSpec, Fields, Input, SecretKind, ValidatedValue};

pub struct SshKey;

const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "private_key",
        form: "ssh_private_key",
        label: "Private key",
        input: Input::Multiline,
        sensitive: true,
        required: true,
        default: None,
        placeholder: "-----BEGIN OPENSSH PRIVATE KEY-----",
        max_chars: 16384,
    },
    FieldSpec {
        name: "public_key",
        form: "ssh_public_key",
        label: "Public key",
        input: Input::Text,
        sensitive: false,
        required: false,
        default: None,
        placeholder: "derived from the private key when empty",
        max_chars: 8192,
    },
    FieldSpec {
        name: "passphrase",
        form: "ssh_passphrase",
        label: "Passphrase",
        input: Input::Password,
        sensitive: true,
        required: false,
        default: None,
        placeholder: "only for an encrypted private key",
        max_chars: 1024,
    },
];

/// Problems with the key, without ever quoting it.
fn check_private(f: &mut Fields, private_key: &str, passphrase: Option<&str>) -> Option<PrivateKey> {
    let key = match PrivateKey::from_openssh(private_key.trim()) {
        Ok(key) => key,
        Err(_) if private_key.contains("-----BEGIN") && !private_key.contains("OPENSSH PRIVATE KEY") => {
            f.problem(
                "private_key",
                "only OpenSSH private keys are accepted; convert a PEM key with ssh-keygen -p -f FILE",
            );
            return None;
        }
        Err(_) => {
            f.problem(
                "private_key",
                "is not an OpenSSH private key (it starts with -----BEGIN OPENSSH PRIVATE KEY-----)",
            );
            return None;
        }
    };
    match (key.is_encrypted(), passphrase) {
        (true, Some(passphrase)) if key.decrypt(passphrase).is_err() => {
            f.problem("passphrase", "does not decrypt the private key");
        }
        (false, Some(_)) => f.problem(
            "passphrase",
            "the private key is not encrypted; leave the passphrase empty",
        ),
        _ => {}
    }
    Some(key)
}

const DESCRIPTION: Description = Description {
    secret_type: SecretType::SshKey,
    label: "SSH key",
    structured: true,
    fields: FIELDS,
};

impl SecretKind for SshKey {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    fn validate(&self, value: &Value) -> Result<ValidatedValue, Vec<String>> {
        let mut f = Fields::new(self, value)?;
        let private_key = f.string("private_key");
        let public_key = f.string("public_key").filter(|p| !p.trim().is_empty());
        let passphrase = f.string("passphrase").filter(|p| !p.is_empty());
        let key = private_key
            .as_deref()
            .and_then(|k| check_private(&mut f, k, passphrase.as_deref()));
        let public_key = match (&key, public_key) {
            (Some(key), None) => key.public_key().to_openssh().ok(),
            (Some(key), Some(given)) => match PublicKey::from_openssh(given.trim()) {
                Ok(p) if p.key_data() == key.public_key().key_data() => Some(given.trim().to_owned()),
                Ok(_) => {
                    f.problem(
                        "public_key",
                        "does not match the private key; leave it empty to derive it",
                    );
                    None
                }
                Err(_) => {
                    f.problem("public_key", "is not an OpenSSH public key like ssh-ed25519 AAAA...");
                    None
                }
            },
            (None, _) => None,
        };
        let canonical = json!({ "private_key": private_key, "public_key": public_key, "passphrase": passphrase });
        f.finish(canonical)
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;
    use crate::kinds::plaintext_str;

    /// A key written by `ssh-keygen`: (private key, public key line).
    fn keygen(algorithm: &str, passphrase: &str) -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", algorithm, "-N", passphrase, "-C", "test@sealbox", "-f"])
            .arg(&path)
            .args(if algorithm == "rsa" {
                &["-b", "2048"][..]
            } else {
                &[][..]
            })
            .status()
            .unwrap();
        assert!(status.success());
        let private = std::fs::read_to_string(&path).unwrap();
        let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
        (private, public.trim().to_owned())
    }

    fn stored(v: &ValidatedValue) -> Value {
        serde_json::from_str(plaintext_str(v).unwrap()).unwrap()
    }

    #[test]
    fn keys_from_ssh_keygen_parse_and_give_their_public_key() {
        for algorithm in ["ed25519", "rsa"] {
            let (private, public) = keygen(algorithm, "");
            let v = SshKey.validate(&json!({ "private_key": private })).unwrap();
            let derived = v.details["public_key"].as_str().unwrap().to_owned();
            // ssh-keygen's line is `type base64 comment`; the derived one carries the same key.
            assert_eq!(
                derived.split(' ').take(2).collect::<Vec<_>>(),
                public.split(' ').take(2).collect::<Vec<_>>()
            );
            assert!(v.details.get("private_key").is_none());
            let given = SshKey
                .validate(&json!({ "private_key": private, "public_key": public }))
                .unwrap();
            assert_eq!(given.details["public_key"], public);
            assert_eq!(stored(&given)["private_key"], private);
        }
    }

    #[test]
    fn an_encrypted_key_is_checked_against_its_passphrase() {
        for algorithm in ["ed25519", "rsa"] {
            let (private, public) = keygen(algorithm, "correct horse");
            let v = SshKey
                .validate(&json!({ "private_key": private, "passphrase": "correct horse" }))
                .unwrap();
            assert_eq!(
                v.details["public_key"].as_str().unwrap().split(' ').nth(1),
                public.split(' ').nth(1)
            );
            let problems = SshKey
                .validate(&json!({ "private_key": private, "passphrase": "wrong" }))
                .err()
                .unwrap();
            assert_eq!(problems, vec!["ssh_key.passphrase: does not decrypt the private key"]);
            // Without the passphrase the key still parses (its public half is not encrypted).
            assert!(SshKey.validate(&json!({ "private_key": private })).is_ok());
        }
        let (plain, _) = keygen("ed25519", "");
        let problems = SshKey
            .validate(&json!({ "private_key": plain, "passphrase": "x" }))
            .err()
            .unwrap();
        assert!(problems[0].starts_with("ssh_key.passphrase: the private key is not encrypted"));
    }

    #[test]
    fn a_broken_key_or_a_foreign_public_key_is_a_clear_field_error() {
        let (private, _) = keygen("ed25519", "");
        let broken = private.replacen('A', "B", 3).replace("\n", "\n ");
        let problems = SshKey.validate(&json!({ "private_key": broken })).err().unwrap();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("ssh_key.private_key: is not an OpenSSH private key"),
            "{problems:?}"
        );
        assert!(!problems[0].contains("AAAA"), "the key is never quoted");
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n";
        let problems = SshKey.validate(&json!({ "private_key": pem })).err().unwrap();
        assert!(problems[0].contains("only OpenSSH private keys"), "{problems:?}");
        let (_, other_public) = keygen("ed25519", "");
        let problems = SshKey
            .validate(&json!({ "private_key": private, "public_key": other_public }))
            .err()
            .unwrap();
        assert_eq!(
            problems,
            vec!["ssh_key.public_key: does not match the private key; leave it empty to derive it"]
        );
        assert!(SshKey.validate(&json!({})).is_err());
    }
}
