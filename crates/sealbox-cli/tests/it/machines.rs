//! Machine access: identities, their variables and tokens, tag policies, and `sealbox env`.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::{Sealbox, setup};

/// Creates `name` tagged `team=payments` with a token, and returns the token.
fn identity_with_token(sb: &Sealbox, name: &str) -> String {
    sb.cli(&["identity", "create", name, "--tag", "team=payments"], None)
        .ok();
    let created = sb.cli(&["identity", "token", "create", name], None);
    let token = created.ok().trim().to_owned();
    assert!(token.starts_with("sbx_"), "{created:#?}");
    token
}

fn text_secret(sb: &Sealbox, name: &str, tag: &str, value: &str) {
    sb.cli(
        &["secret", "create", name, "--type", "text", "--tag", tag],
        Some(&format!("{value}\n")),
    )
    .ok();
}

/// `sealbox env --json` as `token`.
fn env_json(sb: &Sealbox, token: &str) -> Value {
    sb.cli_as(Some(token), &["--json", "env"], None).json()
}

/// Feeds `script` on stdin to `sh -c 'eval "$(cat)"; sh -c 'printf %s "$VAR"'` and returns what the
/// child shell printed: the variables are exported to the programs the shell starts.
fn eval_in_shell(script: &str, var: &str) -> String {
    let mut child = Command::new("sh")
        .args(["-c", &format!("eval \"$(cat)\"; sh -c 'printf %s \"${var}\"'")])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "sh failed: {out:#?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn an_identity_gets_its_context_environment() {
    let sb = setup();
    let created = sb.cli(
        &["identity", "create", "payments-worker", "--tag", "team=payments"],
        None,
    );
    assert!(created.ok().contains("payments-worker"), "{created:#?}");
    sb.cli(&["identity", "env", "set", "payments-worker", "LOG_LEVEL=debug"], None)
        .ok();
    sb.cli(
        &["identity", "env", "set", "payments-worker", "DB_HOST=identity-host"],
        None,
    )
    .ok();

    let created = sb.cli(
        &["identity", "token", "create", "payments-worker", "--ttl", "30d"],
        None,
    );
    let token = created.ok().trim().to_owned();
    assert!(token.starts_with("sbx_"), "{created:#?}");
    assert_eq!(created.stdout.lines().count(), 1, "{created:#?}");
    assert!(created.stderr.contains("shown this once"), "{created:#?}");
    assert!(!created.stderr.contains(&token), "{created:#?}");

    let policy = sb.cli(
        &[
            "policy",
            "create",
            "payments-read",
            "--identity-tag",
            "team=payments",
            "--secret-tag",
            "team=payments",
            "--allow",
            "read",
        ],
        None,
    );
    assert!(policy.ok().contains("payments-read"), "{policy:#?}");

    text_secret(&sb, "API_KEY", "team=payments", "api-key-Pq81");
    text_secret(&sb, "DB_HOST", "team=payments", "secret-host-Vn22");
    text_secret(&sb, "OTHER_TEAM", "team=billing", "billing-Kk07");
    let mailer = json!({"host": "smtp.example.com", "port": 587, "username": "mailer",
                        "password": "smtp-pass-Hh55", "from": "noreply@example.com"});
    sb.cli(
        &["secret", "create", "MAILER", "--type", "smtp", "--tag", "team=payments"],
        Some(&mailer.to_string()),
    )
    .ok();

    // Only what the policy covers, with the identity's own variables laid over the secrets.
    let env = env_json(&sb, &token);
    let keys: Vec<&str> = env.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["API_KEY", "DB_HOST", "LOG_LEVEL", "MAILER"], "{env}");
    assert_eq!(env["API_KEY"], "api-key-Pq81");
    assert_eq!(env["DB_HOST"], "identity-host", "the variable overrides the secret");
    assert_eq!(env["LOG_LEVEL"], "debug");
    // A structured value arrives as a JSON object string.
    let parsed: Value = serde_json::from_str(env["MAILER"].as_str().unwrap()).unwrap();
    assert_eq!(parsed["password"], "smtp-pass-Hh55");

    // The read is recorded on the secret, and on the token.
    let get = sb.cli(&["secret", "get", "API_KEY"], None);
    assert!(get.ok().contains("identity:payments-worker"), "{get:#?}");
    let tokens = sb
        .cli(&["--json", "identity", "token", "list", "payments-worker"], None)
        .json();
    assert!(tokens["tokens"][0]["last_used_at"].is_string(), "{tokens}");

    // What the admin sees of the identity.
    let get = sb.cli(&["identity", "get", "payments-worker"], None);
    let text = get.ok();
    assert!(text.contains("team=payments"), "{get:#?}");
    assert!(text.contains("LOG_LEVEL='debug'"), "{get:#?}");
    assert!(text.contains("created:"), "{get:#?}");
    let list = sb.cli(&["identity", "list"], None);
    assert!(list.ok().contains("payments-worker"), "{list:#?}");
    assert!(list.ok().contains("DB_HOST, LOG_LEVEL"), "{list:#?}");
    let vars = sb.cli(&["identity", "env", "list", "payments-worker"], None);
    assert!(vars.ok().contains("identity-host"), "{vars:#?}");
    let policies = sb.cli(&["policy", "list"], None);
    assert!(policies.ok().contains("payments-read"), "{policies:#?}");
    assert!(policies.ok().contains("read"), "{policies:#?}");
    let tokens = sb.cli(&["identity", "token", "list", "payments-worker"], None);
    assert!(tokens.ok().contains("default"), "{tokens:#?}");
    assert!(!tokens.all().contains(&token), "{tokens:#?}");

    // A member's token gets the masked secrets, and no identity's variables.
    let env = env_json(&sb, &sb.bootstrap.token);
    assert_eq!(env["DB_HOST"], "secret-host-Vn22", "{env}");
    assert_eq!(env["OTHER_TEAM"], "billing-Kk07", "{env}");
    assert!(env.get("LOG_LEVEL").is_none(), "{env}");

    // Tags replaced: the identity no longer matches the policy, and sees only its variables.
    let updated = sb.cli(
        &["identity", "update", "payments-worker", "--tag", "team=billing"],
        None,
    );
    assert!(updated.ok().contains("team=billing"), "{updated:#?}");
    let env = env_json(&sb, &token);
    assert_eq!(env, json!({"DB_HOST": "identity-host", "LOG_LEVEL": "debug"}));

    // An unset variable stops overriding.
    sb.cli(
        &["identity", "update", "payments-worker", "--tag", "team=payments"],
        None,
    )
    .ok();
    sb.cli(&["identity", "env", "unset", "payments-worker", "DB_HOST"], None)
        .ok();
    assert_eq!(env_json(&sb, &token)["DB_HOST"], "secret-host-Vn22");
}

#[test]
fn env_output_round_trips_through_the_shell() {
    let sb = setup();
    let token = identity_with_token(&sb, "builder");
    sb.cli(
        &[
            "policy",
            "create",
            "build",
            "--identity",
            "builder",
            "--secret-tag",
            "app=web",
            "--allow",
            "read",
        ],
        None,
    )
    .ok();
    let tricky = "it's a \"quoted\" $HOME value with `date` and \\ spaces;\nsecond line $(id) '' end";
    text_secret(&sb, "TRICKY", "app=web", tricky);
    text_secret(&sb, "PLAIN", "app=web", "plain-Rr56");
    let greeting = "hello 'world' $USER \"x\"";
    sb.cli(
        &["identity", "env", "set", "builder", &format!("GREETING={greeting}")],
        None,
    )
    .ok();
    sb.cli(&["identity", "env", "set", "builder", "EMPTY="], None).ok();

    let run = sb.cli_as(Some(&token), &["env"], None);
    let script = run.ok();
    assert!(run.stderr.is_empty(), "{run:#?}");
    assert!(script.contains("PLAIN='plain-Rr56'\n"), "{run:#?}");
    assert!(script.contains("EMPTY=''\n"), "{run:#?}");
    assert_eq!(eval_in_shell(script, "TRICKY"), tricky);
    assert_eq!(eval_in_shell(script, "GREETING"), greeting);
    assert_eq!(eval_in_shell(script, "PLAIN"), "plain-Rr56");
    assert_eq!(eval_in_shell(script, "EMPTY"), "");
    // The JSON form carries the same values.
    let env = env_json(&sb, &token);
    assert_eq!(env["TRICKY"], tricky);
    assert_eq!(env["GREETING"], greeting);
}

#[test]
fn use_only_policy_gives_an_empty_environment() {
    let sb = setup();
    let token = identity_with_token(&sb, "mailer");
    text_secret(&sb, "SMTP_PASS", "team=payments", "smtp-Zz11");
    sb.cli(
        &[
            "policy",
            "create",
            "send-only",
            "--identity-tag",
            "team=payments",
            "--secret-tag",
            "team=payments",
            "--allow",
            "use",
        ],
        None,
    )
    .ok();
    assert_eq!(env_json(&sb, &token), json!({}));
    let run = sb.cli_as(Some(&token), &["env"], None);
    assert_eq!(run.ok(), "", "{run:#?}");

    // Deny by default, and a policy change applies on the next request.
    sb.cli(
        &[
            "policy",
            "create",
            "read-too",
            "--identity",
            "mailer",
            "--secret-tag",
            "team=payments",
            "--allow",
            "read,use",
        ],
        None,
    )
    .ok();
    let list = sb.cli(&["--json", "policy", "list"], None).json();
    let read_too = list["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "read-too")
        .cloned()
        .unwrap_or_else(|| panic!("no read-too: {list}"));
    assert_eq!(read_too["allow"], json!(["read", "use"]));
    assert_eq!(read_too["identities"], json!(["mailer"]));
    assert_eq!(env_json(&sb, &token), json!({"SMTP_PASS": "smtp-Zz11"}));
    sb.cli(&["policy", "delete", "read-too"], None).ok();
    assert_eq!(env_json(&sb, &token), json!({}));
    sb.cli(&["policy", "delete", "read-too"], None)
        .fails_with("policy.not_found");
}

#[test]
fn revoked_and_deleted_identities_are_locked_out() {
    let sb = setup();
    let token = identity_with_token(&sb, "agent");
    let second = sb
        .cli(&["identity", "token", "create", "agent", "--name", "second"], None)
        .ok()
        .trim()
        .to_owned();
    sb.cli_as(Some(&token), &["env"], None).ok();

    let list = sb.cli(&["--json", "identity", "token", "list", "agent"], None).json();
    let tokens = list["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2, "{list}");
    let id = tokens
        .iter()
        .find(|t| t["name"] == "default")
        .and_then(|t| t["id"].as_str())
        .unwrap_or_else(|| panic!("no default token: {list}"))
        .to_owned();
    let revoked = sb.cli(&["identity", "token", "revoke", "agent", &id], None);
    assert!(revoked.ok().contains(&id), "{revoked:#?}");

    let run = sb.cli_as(Some(&token), &["env"], None);
    run.fails_with("auth.token_revoked");
    assert!(run.stdout.is_empty(), "{run:#?}");
    sb.cli(&["identity", "token", "revoke", "agent", &id], None)
        .fails_with("token.not_found");
    // The other token still works until the identity is deleted.
    sb.cli_as(Some(&second), &["env"], None).ok();
    // An identity manages nothing.
    sb.cli_as(Some(&second), &["identity", "list"], None)
        .fails_with("permission.denied");
    sb.cli_as(
        Some(&second),
        &["secret", "create", "NOPE", "--type", "text"],
        Some("v"),
    )
    .fails_with("permission.denied");
    // It lists only what its policies cover: here nothing.
    let listed = sb.cli_as(Some(&second), &["secret", "list", "--json"], None);
    assert_eq!(listed.json()["secrets"], serde_json::json!([]), "{listed:#?}");
    let deleted = sb.cli(&["identity", "delete", "agent"], None);
    assert!(deleted.ok().contains("agent"), "{deleted:#?}");
    let run = sb.cli_as(Some(&second), &["env"], None);
    assert_eq!(run.status, 4, "unauthenticated: {run:#?}");
    assert!(run.stderr.contains("(auth."), "{run:#?}");
    sb.cli(&["identity", "get", "agent"], None)
        .fails_with("identity.not_found");
}

#[test]
fn bad_input_is_refused_clearly() {
    let sb = setup();
    sb.cli(&["identity", "create", "w"], None).ok();

    // Mistakes the CLI sees: exit code 2 with a message naming the problem, and nothing sent.
    let usage = |args: &[&str], expected: &str| {
        let run = sb.cli(args, None);
        assert_eq!(run.status, 2, "{args:?}: {run:#?}");
        assert!(run.stderr.contains(expected), "{args:?}: {run:#?}");
        assert!(run.stdout.is_empty(), "{args:?}: {run:#?}");
    };
    let policy = |extra: &[&str]| {
        let mut args = vec!["policy", "create", "p"];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let p = policy(&["--identity", "w", "--secret-tag", "a=b", "--allow", "write"]);
    usage(
        &p.iter().map(String::as_str).collect::<Vec<_>>(),
        "invalid value 'write'",
    );
    let p = policy(&["--identity", "w", "--secret-tag", "a=b", "--allow", "read,write"]);
    usage(
        &p.iter().map(String::as_str).collect::<Vec<_>>(),
        "invalid value 'write'",
    );
    let p = policy(&["--identity", "w", "--secret-tag", "a=b"]);
    usage(&p.iter().map(String::as_str).collect::<Vec<_>>(), "--allow");
    let p = policy(&["--identity", "w", "--allow", "read"]);
    usage(&p.iter().map(String::as_str).collect::<Vec<_>>(), "--secret-tag");
    let p = policy(&["--secret-tag", "a=b", "--allow", "read"]);
    usage(
        &p.iter().map(String::as_str).collect::<Vec<_>>(),
        "at least one --identity NAME or --identity-tag KEY=VALUE",
    );
    let p = policy(&["--identity", "w", "--secret-tag", "ab", "--allow", "read"]);
    usage(
        &p.iter().map(String::as_str).collect::<Vec<_>>(),
        r#"--secret-tag must be KEY=VALUE, got "ab""#,
    );
    let p = policy(&["--identity-tag", "t", "--secret-tag", "a=b", "--allow", "read"]);
    usage(
        &p.iter().map(String::as_str).collect::<Vec<_>>(),
        r#"--identity-tag must be KEY=VALUE, got "t""#,
    );
    usage(
        &["identity", "env", "set", "w", "novalue"],
        r#"expected KEY=VALUE, got "novalue""#,
    );
    usage(&["identity", "env", "set", "w", "=v"], "non-empty KEY");
    usage(
        &["identity", "create", "x", "--tag", "novalue"],
        "--tag must be KEY=VALUE",
    );
    usage(&["identity", "update", "w"], "--tag");
    usage(&["identity", "token", "create", "w", "--ttl", "1w"], "--ttl must be");
    assert_eq!(
        sb.cli(&["--json", "policy", "list"], None).json(),
        json!({"policies": []})
    );

    // Mistakes the server sees: exit code 1 with one line and the code.
    let run = sb.cli(&["identity", "create", "9 lives"], None);
    run.fails_with("identity.name_invalid");
    assert_eq!(run.stderr.lines().count(), 1, "{run:#?}");
    sb.cli(&["identity", "create", "w"], None).fails_with("identity.exists");
    sb.cli(&["identity", "env", "set", "w", "1BAD=v"], None)
        .fails_with("identity.env_invalid");
    sb.cli(&["identity", "env", "unset", "w", "NOPE"], None)
        .fails_with("identity.env_not_found");
    sb.cli(&["identity", "env", "set", "ghost", "A=b"], None)
        .fails_with("identity.not_found");
    sb.cli(&["identity", "token", "create", "ghost"], None)
        .fails_with("identity.not_found");
    sb.cli(&["identity", "token", "revoke", "w", "not-an-id"], None)
        .fails_with("token.not_found");
    // A path-like name stays one segment.
    let run = sb.cli(&["identity", "get", "../w"], None);
    assert_eq!(run.status, 3, "not found: {run:#?}");
    assert!(run.stderr.contains("(identity.not_found)"), "{run:#?}");
    sb.cli(
        &[
            "policy",
            "create",
            "bad name",
            "--identity",
            "w",
            "--secret-tag",
            "a=b",
            "--allow",
            "read",
        ],
        None,
    )
    .fails_with("policy.invalid");
    sb.cli_as(None, &["env"], None).fails_with("auth.missing_token");
}

#[test]
fn json_output_parses() {
    let sb = setup();
    let j = |args: &[&str]| {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        sb.cli(&all, None).json()
    };
    let created = j(&["identity", "create", "ci", "--tag", "team=ci"]);
    assert_eq!(created["name"], "ci");
    assert_eq!(created["tags"], json!({"team": "ci"}));
    let set = j(&["identity", "env", "set", "ci", "MODE=fast"]);
    assert_eq!(set["env"], json!({"MODE": "fast"}));
    assert_eq!(j(&["identity", "env", "list", "ci"]), json!({"MODE": "fast"}));
    let list = j(&["identity", "list"]);
    assert_eq!(list["identities"][0]["name"], "ci");
    let got = j(&["identity", "get", "ci"]);
    assert_eq!(got["created_by"], format!("member:{}", sb.bootstrap.email));
    let updated = j(&["identity", "update", "ci", "--tag", "team=ops", "--tag", "tier=1"]);
    assert_eq!(updated["tags"], json!({"team": "ops", "tier": "1"}));
    let cleared = j(&["identity", "update", "ci", "--clear-tags"]);
    assert_eq!(cleared["tags"], json!({}));
    let unset = j(&["identity", "env", "unset", "ci", "MODE"]);
    assert_eq!(unset["env"], json!({}));

    let token = j(&["identity", "token", "create", "ci", "--name", "runner", "--ttl", "1h"]);
    assert!(token["token"].as_str().unwrap().starts_with("sbx_"), "{token}");
    assert_eq!(token["name"], "runner");
    assert!(token["expires_at"].is_string(), "{token}");
    let id = token["id"].as_str().unwrap().to_owned();
    let tokens = j(&["identity", "token", "list", "ci"]);
    assert_eq!(tokens["tokens"][0]["id"], id.as_str());
    assert!(tokens.get("token").is_none() && tokens["tokens"][0].get("token").is_none());

    let policy = j(&[
        "policy",
        "create",
        "ci-read",
        "--identity",
        "ci",
        "--secret-tag",
        "env=ci",
        "--allow",
        "use",
        "--allow",
        "read",
    ]);
    assert_eq!(policy["allow"], json!(["read", "use"]));
    assert_eq!(policy["secret_tags"], json!({"env": "ci"}));
    assert_eq!(j(&["policy", "list"])["policies"][0]["name"], "ci-read");

    text_secret(&sb, "CI_TOKEN", "env=ci", "ci-value-Jj40");
    let env = sb
        .cli_as(Some(token["token"].as_str().unwrap()), &["--json", "env"], None)
        .json();
    assert_eq!(env, json!({"CI_TOKEN": "ci-value-Jj40"}));

    assert_eq!(j(&["policy", "delete", "ci-read"]), json!({"deleted": "ci-read"}));
    assert_eq!(
        j(&["identity", "token", "revoke", "ci", &id]),
        json!({"revoked": id, "identity": "ci"})
    );
    assert_eq!(j(&["identity", "delete", "ci"]), json!({"deleted": "ci"}));
    assert_eq!(j(&["identity", "list"]), json!({"identities": []}));
}

#[test]
fn inject_renders_a_private_file_or_writes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let sb = setup();
    let token = identity_with_token(&sb, "renderer");
    text_secret(&sb, "API_KEY", "team=payments", "k-123");
    sb.cli(
        &[
            "policy",
            "create",
            "p",
            "--identity",
            "renderer",
            "--secret-tag",
            "team=payments",
            "--allow",
            "read",
        ],
        None,
    )
    .ok();
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("config.tmpl");
    let output = dir.path().join("config.ini");
    std::fs::write(&template, "[api]\nkey = {secrets.API_KEY}\nbraces = {{x}}\n").unwrap();
    let run = sb.cli_as(
        Some(&token),
        &[
            "inject",
            "-i",
            template.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ],
        None,
    );
    run.ok();
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "[api]\nkey = k-123\nbraces = {x}\n"
    );
    assert_eq!(std::fs::metadata(&output).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!run.all().contains("k-123"), "the value goes to the file only");

    let other = dir.path().join("other.ini");
    std::fs::write(&template, "ok {secrets.API_KEY}\n{secrets.NOPE}\n{secrets.ALSO_NOPE}\n").unwrap();
    let refused = sb.cli_as(
        Some(&token),
        &[
            "inject",
            "-i",
            template.to_str().unwrap(),
            "-o",
            other.to_str().unwrap(),
        ],
        None,
    );
    let stderr = refused.fails_with("template.reference_invalid");
    assert!(
        stderr.contains("line 2: {secrets.NOPE}") && stderr.contains("line 3: {secrets.ALSO_NOPE}"),
        "{stderr}"
    );
    assert!(!other.exists(), "no file is written");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "the template and the first output only, no partial file: {names:?}"
    );

    // A pipe (like /dev/stdout, /dev/null or a shell's process substitution) is written into,
    // never replaced by a file renamed over it.
    std::fs::write(&template, "key = {secrets.API_KEY}\n").unwrap();
    let fifo = dir.path().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    sb.cli_as(
        Some(&token),
        &["inject", "-i", template.to_str().unwrap(), "-o", fifo.to_str().unwrap()],
        None,
    )
    .ok();
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::metadata(&fifo).unwrap().file_type().is_fifo(),
        "the pipe is still a pipe"
    );
    assert_eq!(reader.join().unwrap(), "key = k-123\n");
}

/// Issue 9, item 11: `sealbox secret reveal` with an identity's token reads what a policy lets it
/// `read`; anything else is "not found".
#[test]
fn an_identity_reveals_one_value_it_may_read() {
    let sb = setup();
    let token = identity_with_token(&sb, "reader");
    text_secret(&sb, "PAY_KEY", "team=payments", "pay-v1");
    sb.cli(&["secret", "update", "PAY_KEY", "--value-stdin"], Some("pay-v2"))
        .ok();
    text_secret(&sb, "OPS_KEY", "team=ops", "ops-v");
    sb.cli(
        &[
            "policy",
            "create",
            "read-pay",
            "--identity",
            "reader",
            "--secret-tag",
            "team=payments",
            "--allow",
            "read",
        ],
        None,
    )
    .ok();
    let reveal = |args: &[&str]| {
        let mut all = vec!["secret", "reveal"];
        all.extend_from_slice(args);
        sb.cli_as(Some(&token), &all, None)
    };
    assert_eq!(reveal(&["PAY_KEY"]).ok(), "pay-v2\n");
    assert_eq!(reveal(&["PAY_KEY", "--version", "1"]).ok(), "pay-v1\n");
    let refused = reveal(&["OPS_KEY"]);
    assert!(
        refused.fails_with("secret.not_found").contains("OPS_KEY"),
        "{refused:#?}"
    );
    let get = sb.cli(&["secret", "get", "PAY_KEY"], None);
    assert!(get.ok().contains("identity:reader"), "the read is recorded: {get:#?}");
}

/// Issue 9, item 6: `inject -o` writes where the path leads and never replaces a link or a
/// special file; without `-o` (or with `-`) it writes to stdout, and reads stdin without `-i`.
#[test]
fn issue_9_inject_writes_where_the_path_leads() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let sb = setup();
    sb.cli(&["secret", "create", "API_KEY", "--type", "text"], Some("k-123"))
        .ok();
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("config.tmpl");
    std::fs::write(&template, "key = {secrets.API_KEY}\n").unwrap();
    let tmpl = template.to_str().unwrap();
    let rendered = "key = k-123\n";
    let is_link = |p: &std::path::Path| std::fs::symlink_metadata(p).unwrap().file_type().is_symlink();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

    // `-o LINK > app.conf` where LINK leads to /dev/stdout: app.conf gets the content (appended
    // with `>>`), the link stays a link.
    let to_stdout = dir.path().join("out");
    symlink("/dev/stdout", &to_stdout).unwrap();
    for (append, expected) in [(false, rendered.to_owned()), (true, format!("before\n{rendered}"))] {
        let app_conf = dir.path().join("app.conf");
        std::fs::write(&app_conf, "before\n").unwrap();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .append(append)
            .truncate(!append)
            .open(&app_conf)
            .unwrap();
        let status = sb
            .command_as(
                Some(&sb.bootstrap.token),
                &["inject", "-i", tmpl, "-o", to_stdout.to_str().unwrap()],
            )
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(
            std::fs::read_to_string(&app_conf).unwrap(),
            expected,
            "append: {append}"
        );
        assert!(is_link(&to_stdout), "the link to /dev/stdout is still a link");
    }

    // Without -o, or with `-`: stdout, and nothing else there.
    for args in [&["inject", "-i", tmpl][..], &["inject", "-i", tmpl, "-o", "-"][..]] {
        let run = sb.cli(args, None);
        assert_eq!(run.ok(), rendered, "{args:?}");
        assert_eq!(run.stderr, "", "{run:#?}");
    }
    // Without -i, or with `-`: the template comes from stdin.
    for args in [&["inject"][..], &["inject", "-i", "-"][..]] {
        let run = sb.cli(args, Some("key = {secrets.API_KEY}\n"));
        assert_eq!(run.ok(), rendered, "{args:?}");
    }

    // A link to a regular file: written through; the link stays, its target gets the content.
    let real = dir.path().join("real.conf");
    std::fs::write(&real, "an older and longer content\n").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("link.conf");
    symlink(&real, &link).unwrap();
    let run = sb.cli(&["inject", "-i", tmpl, "-o", link.to_str().unwrap()], None);
    run.ok();
    assert!(is_link(&link), "{run:#?}");
    assert_eq!(std::fs::read_to_string(&real).unwrap(), rendered);
    assert_eq!(mode(&real), 0o640, "the target keeps its mode");

    // A dangling link: its target is created, mode 0600.
    let made = dir.path().join("made.conf");
    let dangling = dir.path().join("dangling.conf");
    symlink(&made, &dangling).unwrap();
    sb.cli(&["inject", "-i", tmpl, "-o", dangling.to_str().unwrap()], None)
        .ok();
    assert!(is_link(&dangling));
    assert_eq!(std::fs::read_to_string(&made).unwrap(), rendered);
    assert_eq!(mode(&made), 0o600);

    // An existing regular file is replaced atomically with a private one.
    let plain = dir.path().join("plain.conf");
    std::fs::write(&plain, "old\n").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = sb.cli(&["inject", "-i", tmpl, "-o", plain.to_str().unwrap()], None);
    assert!(run.stderr.contains("(mode 0600)"), "{run:#?}");
    assert_eq!(std::fs::read_to_string(&plain).unwrap(), rendered);
    assert_eq!(mode(&plain), 0o600);

    // A directory is refused, and nothing is left behind anywhere.
    let run = sb.cli(&["inject", "-i", tmpl, "-o", dir.path().to_str().unwrap()], None);
    assert_eq!(run.status, 1, "{run:#?}");
    assert!(run.stderr.contains("is a directory"), "{run:#?}");
    let partials: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(partials.is_empty(), "{partials:?}");
}
