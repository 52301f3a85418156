//! The `database` and `ssh_key` types through the API, the environment and templates.

use std::process::Command;

use serde_json::{Value, json};

use crate::setup;

/// A key written by `ssh-keygen`: (private key, public key line).
pub fn keygen(passphrase: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", passphrase, "-C", "ci@sealbox", "-f"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let private = std::fs::read_to_string(&path).unwrap();
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    (private, public.trim().to_owned())
}

const DB_PASSWORD: &str = "p@ss:w/o?r#d%";

fn database_value() -> Value {
    json!({"engine": "postgres", "host": "::1", "database": "app", "username": "app@web",
           "password": DB_PASSWORD, "options": "sslmode=disable"})
}

#[tokio::test]
async fn a_database_secret_gives_its_url_to_the_environment_and_templates() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    let created = api
        .post(
            "/v1/secrets",
            owner,
            json!({"name": "DATABASE_URL", "type": "database", "value": database_value()}),
        )
        .await
        .expect(201);
    assert_eq!(created["type"], "database");
    assert_eq!(
        created["details"],
        json!({"engine": "postgres", "host": "::1", "port": 5432, "database": "app",
               "username": "app@web", "options": "sslmode=disable"}),
        "the password is not a detail; the port is the engine's default"
    );
    assert!(!created.to_string().contains("w/o?r"));
    let revealed = api.reveal(owner, "DATABASE_URL").await.expect(200);
    assert_eq!(revealed["value"]["password"], DB_PASSWORD);
    assert!(revealed["value"].get("url").is_none(), "the URL is derived, not stored");

    let url = "postgres://app%40web:p%40ss%3Aw%2Fo%3Fr%23d%25@[::1]:5432/app?sslmode=disable";
    let env = api.get("/v1/environment", owner).await.expect(200);
    assert_eq!(env["variables"]["DATABASE_URL"], url);
    let rendered = api
        .post(
            "/v1/render",
            owner,
            json!({"template": "{secrets.DATABASE_URL.url}|{secrets.DATABASE_URL}|{secrets.DATABASE_URL.port}|{secrets.DATABASE_URL.password}"}),
        )
        .await
        .expect(200);
    assert_eq!(rendered["rendered"], format!("{url}|{url}|5432|{DB_PASSWORD}"));
    api.post("/v1/render", owner, json!({"template": "{secrets.DATABASE_URL.nope}"}))
        .await
        .expect_error(400, "template.reference_invalid");

    let bad = api
        .post(
            "/v1/secrets",
            owner,
            json!({"name": "BAD_DB", "type": "database", "value": {"engine": "db2", "host": "a b", "port": 0}}),
        )
        .await;
    bad.expect_error(400, "secret.value_invalid");
    let message = bad.message();
    assert!(
        message.contains("database.engine: must be one of postgres, mysql"),
        "{message}"
    );
    assert!(
        message.contains("database.host: must be a host name or IP address"),
        "{message}"
    );
    assert!(message.contains("database.port: must be 1-65535"), "{message}");
}

#[tokio::test]
async fn an_ssh_key_secret_checks_its_key_and_shows_the_public_key() {
    let (server, api) = setup().await;
    let owner = &server.owner_token;
    let (private, public) = keygen("");
    let created = api
        .post(
            "/v1/secrets",
            owner,
            json!({"name": "DEPLOY_KEY", "type": "ssh_key", "value": {"private_key": private}}),
        )
        .await
        .expect(201);
    let shown = created["details"]["public_key"].as_str().unwrap();
    assert_eq!(shown.split(' ').nth(1), public.split(' ').nth(1));
    assert!(created["details"].get("private_key").is_none());
    let rendered = api
        .post(
            "/v1/render",
            owner,
            json!({"template": "{secrets.DEPLOY_KEY.private_key}"}),
        )
        .await
        .expect(200);
    assert_eq!(rendered["rendered"], private);
    let env = api.get("/v1/environment", owner).await.expect(200);
    let whole: Value = serde_json::from_str(env["variables"]["DEPLOY_KEY"].as_str().unwrap()).unwrap();
    assert_eq!(whole["private_key"], private);

    let (locked, _) = keygen("open sesame");
    let bad = api
        .post(
            "/v1/secrets",
            owner,
            json!({"name": "LOCKED", "type": "ssh_key", "value": {"private_key": locked, "passphrase": "wrong"}}),
        )
        .await;
    bad.expect_error(400, "secret.value_invalid");
    assert_eq!(bad.message(), "ssh_key.passphrase: does not decrypt the private key");
    api.post(
        "/v1/secrets",
        owner,
        json!({"name": "LOCKED", "type": "ssh_key", "value": {"private_key": locked, "passphrase": "open sesame"}}),
    )
    .await
    .expect(201);
    let broken = api
        .post(
            "/v1/secrets",
            owner,
            json!({"name": "BROKEN", "type": "ssh_key", "value": {"private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n"}}),
        )
        .await;
    broken.expect_error(400, "secret.value_invalid");
    assert!(
        broken
            .message()
            .starts_with("ssh_key.private_key: is not an OpenSSH private key"),
        "{}",
        broken.body
    );
    let listed = api.get("/v1/secrets?type=ssh_key", owner).await.expect(200);
    assert_eq!(listed["secrets"].as_array().unwrap().len(), 2);
}

/// The OpenAPI document's `SecretValue` is derived from the types' field descriptions.
#[tokio::test]
async fn the_openapi_value_schema_lists_every_type_and_its_fields() {
    let (_server, api) = setup().await;
    let doc = api
        .send(reqwest::Method::GET, "/v1/openapi.json", None, None)
        .await
        .expect(200);
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["CreateSecretRequest"]["properties"]["value"]["$ref"],
        "#/components/schemas/SecretValue"
    );
    let value = &schemas["SecretValue"]["anyOf"];
    let titles: Vec<&str> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["text", "smtp", "aws_sqs", "database", "ssh_key"]);
    let database = &value[3];
    assert_eq!(database["required"], json!(["engine", "host"]));
    assert_eq!(database["properties"]["engine"]["enum"][0], "postgres");
    assert_eq!(database["properties"]["port"]["type"], "integer");
    assert_eq!(database["additionalProperties"], false);
    assert_eq!(
        schemas["SecretType"]["enum"],
        json!(["text", "smtp", "aws_sqs", "database", "ssh_key"])
    );
}
