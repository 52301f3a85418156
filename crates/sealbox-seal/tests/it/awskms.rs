//! `AwsKms` against real moto in server mode: keys are created and disabled through moto's own
//! KMS API, and every wrap and unwrap goes through the signed client under test.

use std::time::{Duration, Instant};

use sealbox_seal::{AwsCredentials, AwsKms, AwsKmsConfig, ProtectorError};
use sealbox_test_peers::Moto;
use secrecy::SecretString;

use crate::{ROOT_KEY, assert_clean};

const ACCESS_KEY_ID: &str = "AKIASEALBOXTEST00001";
const SECRET_ACCESS_KEY: &str = "sbx-secret-access-key-Zq9wPx";
const SESSION_TOKEN: &str = "sbx-session-token-Lm4vRt";
const SECRETS: &[&str] = &[SECRET_ACCESS_KEY, SESSION_TOKEN];

fn credentials(access_key_id: &str, secret: &str) -> AwsCredentials {
    AwsCredentials {
        access_key_id: access_key_id.into(),
        secret_access_key: SecretString::from(secret.to_owned()),
        session_token: None,
    }
}

fn kms_at(endpoint: String, key_id: &str) -> AwsKms {
    let mut creds = credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY);
    creds.session_token = Some(SecretString::from(SESSION_TOKEN));
    AwsKms::with_credentials(
        AwsKmsConfig {
            key_id: key_id.into(),
            endpoint: Some(endpoint),
            region: Some("us-east-1".into()),
        },
        creds,
    )
    .unwrap()
}

fn kms(moto: &Moto, key_id: &str) -> AwsKms {
    kms_at(format!("http://127.0.0.1:{}", moto.peer.port), key_id)
}

fn refused(result: Result<impl std::fmt::Debug, ProtectorError>) -> ProtectorError {
    match result {
        Err(e @ ProtectorError::Refused(_)) => {
            assert_clean(&e, SECRETS);
            e
        }
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wrapped_root_key_unwraps_and_two_wraps_differ() {
    let Some(moto) = Moto::start() else { return };
    let (key_id, arn) = moto.create_kms_key("sealbox root key").await;
    let kms = kms(&moto, &key_id);

    let first = kms.wrap(ROOT_KEY).await.unwrap();
    let second = kms.wrap(ROOT_KEY).await.unwrap();
    assert_ne!(first, second, "each wrap has its own IV");
    for blob in [&first, &second] {
        assert!(
            !blob.windows(ROOT_KEY.len()).any(|w| w == ROOT_KEY),
            "the root key is in the blob"
        );
        assert_eq!(kms.unwrap(blob).await.unwrap().as_slice(), ROOT_KEY);
    }
    // DescribeKey told the ARN, which names the key in messages from now on.
    assert_eq!(
        kms.describe(),
        format!("AWS KMS key {arn} in us-east-1 at http://127.0.0.1:{}", moto.peer.port)
    );
    let shown = format!("{kms:?}");
    assert!(shown.contains(ACCESS_KEY_ID), "{shown}");
    assert!(
        !shown.contains(SECRET_ACCESS_KEY) && !shown.contains(SESSION_TOKEN),
        "{shown}"
    );

    // The same key by its alias and by its ARN opens the blob too.
    let (status, v) = moto
        .kms(
            "CreateAlias",
            serde_json::json!({"AliasName": "alias/sealbox", "TargetKeyId": key_id}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(kms_for_alias(&moto).unwrap(&first).await.unwrap().as_slice(), ROOT_KEY);
    assert_eq!(
        self::kms(&moto, &arn).unwrap(&second).await.unwrap().as_slice(),
        ROOT_KEY
    );
}

fn kms_for_alias(moto: &Moto) -> AwsKms {
    kms(moto, "alias/sealbox")
}

#[tokio::test]
async fn an_unreachable_kms_is_unavailable_within_seconds() {
    // A port nothing listens on: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let kms = kms_at(format!("http://127.0.0.1:{port}"), "alias/sealbox");
    let started = Instant::now();
    let err = kms.unwrap(b"some blob").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(err.is_transient(), "{err}");
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("cannot reach AWS KMS at http://127.0.0.1:{port}/")),
        "{shown}"
    );
    assert!(shown.to_lowercase().contains("refused"), "{shown}");
    assert_clean(&err, SECRETS);
    let err = kms.wrap(ROOT_KEY).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_clean(&err, SECRETS);

    // A peer that accepts the connection and never answers: the total timeout.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let kms = kms_at(format!("http://127.0.0.1:{port}"), "alias/sealbox")
        .with_timeouts(Duration::from_secs(1), Duration::from_secs(1))
        .unwrap();
    let started = Instant::now();
    let err = kms.wrap(ROOT_KEY).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert!(err.is_transient(), "{err}");
    assert!(
        err.to_string().contains("did not answer DescribeKey within 1 s"),
        "{err}"
    );
    assert_clean(&err, SECRETS);
    held.abort();
}

#[tokio::test]
async fn a_disabled_key_is_refused_by_name_until_enabled_again() {
    let Some(moto) = Moto::start() else { return };
    let (key_id, arn) = moto.create_kms_key("sealbox root key").await;
    let kms = kms(&moto, &key_id);
    let blob = kms.wrap(ROOT_KEY).await.unwrap();

    moto.set_kms_key_enabled(&key_id, false).await;
    let err = refused(kms.unwrap(&blob).await);
    assert_eq!(
        err.to_string(),
        format!(
            "AWS KMS key {arn} is disabled: enable it (aws kms enable-key --key-id {arn}) or start with the key \
             that sealed this server"
        )
    );
    let err = refused(kms.wrap(ROOT_KEY).await);
    assert!(err.to_string().contains("is disabled"), "{err}");

    moto.set_kms_key_enabled(&key_id, true).await;
    assert_eq!(kms.unwrap(&blob).await.unwrap().as_slice(), ROOT_KEY);
}

#[tokio::test]
async fn a_key_that_does_not_exist_is_refused_by_name() {
    let Some(moto) = Moto::start() else { return };
    let missing = "4b1f4d2c-0000-4000-8000-00000000dead";
    let err = refused(kms(&moto, missing).wrap(ROOT_KEY).await);
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("AWS KMS key {missing} does not exist in us-east-1")),
        "{shown}"
    );
    assert!(shown.contains("--kms-key-id"), "{shown}");

    let err = refused(kms(&moto, "not-a-key-id").unwrap(b"blob").await);
    assert!(
        err.to_string().contains("AWS KMS key not-a-key-id does not exist"),
        "{err}"
    );
    let err = refused(kms(&moto, "alias/no-such-alias").wrap(ROOT_KEY).await);
    assert!(err.to_string().contains("alias/no-such-alias"), "{err}");
}

#[tokio::test]
async fn a_blob_from_another_key_or_a_damaged_blob_is_refused() {
    let Some(moto) = Moto::start() else { return };
    let (key_a, _) = moto.create_kms_key("a").await;
    let (key_b, arn_b) = moto.create_kms_key("b").await;
    let a = kms(&moto, &key_a);
    let b = kms(&moto, &key_b);
    let blob = a.wrap(ROOT_KEY).await.unwrap();

    // Sealed by A, presented to B: KMS is told the key, so it does not open it with A.
    let err = refused(b.unwrap(&blob).await);
    let shown = err.to_string();
    assert!(shown.contains(&arn_b), "{shown}");
    assert!(shown.contains("start with the key that sealed this server"), "{shown}");

    // Damaged anywhere: in the ciphertext's middle, its last byte, or cut short.
    let mut flipped = blob.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    let mut last = blob.clone();
    *last.last_mut().unwrap() ^= 0x80;
    for damaged in [flipped, last, blob[..blob.len() - 5].to_vec(), b"garbage".to_vec()] {
        let err = refused(a.unwrap(&damaged).await);
        assert!(err.to_string().contains("cannot decrypt the sealed root key"), "{err}");
    }
    let err = refused(a.unwrap(b"").await);
    assert!(err.to_string().contains("empty"), "{err}");
    // The good blob still opens.
    assert_eq!(a.unwrap(&blob).await.unwrap().as_slice(), ROOT_KEY);
}

#[tokio::test]
async fn moto_verifies_the_signature_and_a_wrong_secret_key_is_refused_without_showing_it() {
    let Some(moto) = Moto::start() else { return };
    let (key_id, _) = moto.create_kms_key("signed").await;
    let (access_key_id, secret) = moto.iam_user_key_allowed("sealbox-kms", "kms:*").await;
    let endpoint = format!("http://127.0.0.1:{}", moto.peer.port);
    let config = AwsKmsConfig {
        key_id: key_id.clone(),
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
    };
    moto.enforce_auth(true).await;

    let signed = AwsKms::with_credentials(config.clone(), credentials(&access_key_id, &secret)).unwrap();
    let blob = signed.wrap(ROOT_KEY).await.unwrap();
    assert_eq!(signed.unwrap(&blob).await.unwrap().as_slice(), ROOT_KEY);

    let wrong = AwsKms::with_credentials(config.clone(), credentials(&access_key_id, SECRET_ACCESS_KEY)).unwrap();
    let err = wrong.unwrap(&blob).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert_clean(&err, &[SECRET_ACCESS_KEY, &secret]);
    let shown = err.to_string();
    assert!(shown.starts_with("AWS refused the credentials for KMS"), "{shown}");
    assert!(shown.contains("AWS_SECRET_ACCESS_KEY"), "{shown}");

    let unknown = AwsKms::with_credentials(config, credentials("AKIAUNKNOWN000000000", &secret)).unwrap();
    let err = unknown.wrap(ROOT_KEY).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert_clean(&err, &[&secret]);
    assert!(
        err.to_string().starts_with("AWS refused the credentials for KMS"),
        "{err}"
    );
    moto.enforce_auth(false).await;
}
