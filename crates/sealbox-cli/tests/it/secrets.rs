//! The secret tour: create, read, list, update, version, reveal, roll back, trash.

use serde_json::{Value, json};

use crate::support::{Run, setup};

const V1: &str = "tour-value-Zq93x";
const V2: &str = "tour-value-v2-Yw71";
const V3: &str = "tour-value-v3-Lm08";

fn names(list: &Value) -> Vec<&str> {
    list["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect()
}

#[test]
fn text_secret_tour() {
    let sb = setup();
    // Every output of a command that is not `reveal`, to check no value ever leaks into one.
    let mut seen: Vec<Run> = Vec::new();
    let mut quiet = |run: Run| -> Run {
        seen.push(Run {
            status: run.status,
            stdout: run.stdout.clone(),
            stderr: run.stderr.clone(),
        });
        run
    };

    // Create from stdin: `echo`'s trailing newline is not part of the value.
    let created = quiet(sb.cli(
        &[
            "secret",
            "create",
            "API_KEY",
            "--type",
            "text",
            "--description",
            "Stripe key",
            "--tag",
            "env=prod",
            "--tag",
            "team=payments",
            "--metadata",
            r#"{"owner":"ops"}"#,
        ],
        Some(&format!("{V1}\n")),
    ));
    assert!(created.ok().contains("API_KEY"), "{created:#?}");
    quiet(sb.cli(
        &["secret", "create", "OTHER_KEY", "--type", "text", "--tag", "env=dev"],
        Some("other-value-Kp22\n"),
    ))
    .ok();

    // get shows details, never the value.
    let get = quiet(sb.cli(&["secret", "get", "API_KEY"], None));
    let text = get.ok();
    for expected in [
        "API_KEY",
        "text",
        "masked",
        "Stripe key",
        "env=prod",
        "team=payments",
        "owner=ops",
    ] {
        assert!(text.contains(expected), "{expected} missing: {text}");
    }
    let details = quiet(sb.cli(&["--json", "secret", "get", "API_KEY"], None)).json();
    assert_eq!(details["name"], "API_KEY");
    assert_eq!(details["version"], 1);
    assert_eq!(details["tags"], json!({"env": "prod", "team": "payments"}));

    // list with filters, as a table and as JSON.
    let all = quiet(sb.cli(&["secret", "list"], None));
    assert!(
        all.ok().contains("API_KEY") && all.ok().contains("OTHER_KEY"),
        "{all:#?}"
    );
    assert!(all.ok().starts_with("NAME"), "{all:#?}");
    let filtered = |args: &[&str]| {
        let mut full = vec!["--json", "secret", "list"];
        full.extend_from_slice(args);
        let list = sb.cli(&full, None).json();
        names(&list).iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(filtered(&[]), ["API_KEY", "OTHER_KEY"]);
    assert_eq!(filtered(&["--tag", "env=prod"]), ["API_KEY"]);
    assert_eq!(filtered(&["--tag", "env=prod", "--tag", "team=payments"]), ["API_KEY"]);
    assert_eq!(
        filtered(&["--tag", "env=prod", "--tag", "team=other"]),
        Vec::<String>::new()
    );
    assert_eq!(filtered(&["--prefix", "OTH"]), ["OTHER_KEY"]);
    assert_eq!(filtered(&["--type", "smtp"]), Vec::<String>::new());
    assert_eq!(filtered(&["--type", "text", "--prefix", "API"]), ["API_KEY"]);
    let none = quiet(sb.cli(&["secret", "list", "--tag", "team=nobody"], None));
    assert_eq!(none.ok().trim(), "no secrets");

    // reveal prints exactly the value and a newline.
    assert_eq!(sb.cli(&["secret", "reveal", "API_KEY"], None).ok(), format!("{V1}\n"));

    // update with the right expected version makes version 2 ...
    let updated = quiet(sb.cli(
        &[
            "secret",
            "update",
            "API_KEY",
            "--value-stdin",
            "--expected-version",
            "1",
        ],
        Some(&format!("{V2}\n")),
    ));
    assert!(updated.ok().contains("version 2"), "{updated:#?}");
    // ... and a stale one is refused and writes nothing.
    let stale = quiet(sb.cli(
        &[
            "secret",
            "update",
            "API_KEY",
            "--value-stdin",
            "--expected-version",
            "1",
        ],
        Some(V3),
    ));
    stale.fails_with("secret.version_conflict");
    assert_eq!(sb.cli(&["secret", "reveal", "API_KEY"], None).ok(), format!("{V2}\n"));

    // versions
    let versions = quiet(sb.cli(&["secret", "versions", "API_KEY"], None));
    assert!(versions.ok().contains("2 (current)"), "{versions:#?}");
    let versions = quiet(sb.cli(&["--json", "secret", "versions", "API_KEY"], None)).json();
    assert_eq!(versions["current_version"], 2);
    assert_eq!(versions["versions"].as_array().unwrap().len(), 2);

    // reveal an old version
    assert_eq!(
        sb.cli(&["secret", "reveal", "API_KEY", "--version", "1"], None).ok(),
        format!("{V1}\n")
    );
    let revealed = sb
        .cli(&["--json", "secret", "reveal", "API_KEY", "--version", "1"], None)
        .json();
    assert_eq!(revealed["value"], V1);
    assert_eq!(revealed["version"], 1);
    sb.cli(&["secret", "reveal", "API_KEY", "--version", "9"], None)
        .fails_with("secret.version_not_found");

    // rollback writes version 3 with version 1's value; a stale expectation is refused.
    quiet(sb.cli(
        &["secret", "rollback", "API_KEY", "--to", "1", "--expected-version", "1"],
        None,
    ))
    .fails_with("secret.version_conflict");
    let rolled = quiet(sb.cli(&["secret", "rollback", "API_KEY", "--to", "1"], None));
    assert!(rolled.ok().contains("version 3"), "{rolled:#?}");
    assert_eq!(sb.cli(&["secret", "reveal", "API_KEY"], None).ok(), format!("{V1}\n"));

    // Details change without a new version; --tag replaces the tags.
    quiet(sb.cli(
        &[
            "secret",
            "update",
            "API_KEY",
            "--description",
            "rotated",
            "--tag",
            "env=staging",
        ],
        None,
    ))
    .ok();
    let details = quiet(sb.cli(&["--json", "secret", "get", "API_KEY"], None)).json();
    assert_eq!(details["version"], 3);
    assert_eq!(details["description"], "rotated");
    assert_eq!(details["tags"], json!({"env": "staging"}));

    // An update that changes nothing is refused.
    quiet(sb.cli(&["secret", "update", "API_KEY"], None)).fails_with("secret.nothing_to_update");

    for run in &seen {
        for value in [V1, V2, V3, "other-value-Kp22"] {
            assert!(!run.all().contains(value), "{value} leaked: {run:#?}");
        }
    }
    for (path, bytes) in sb.written_files() {
        for value in [V1, V2, V3] {
            assert!(
                !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
                "{value} in plaintext in {}",
                path.display()
            );
        }
    }
}

#[test]
fn value_from_file_keeps_inner_newlines() {
    let sb = setup();
    let path = sb.dir.path().join("value.txt");
    std::fs::write(&path, "line one\nline two\n\n").unwrap();
    sb.cli(
        &[
            "secret",
            "create",
            "MULTI",
            "--type",
            "text",
            "--value-file",
            path.to_str().unwrap(),
        ],
        None,
    )
    .ok();
    // Exactly one trailing newline dropped; reveal adds one back.
    assert_eq!(
        sb.cli(&["secret", "reveal", "MULTI"], None).ok(),
        "line one\nline two\n\n"
    );
    let revealed = sb.cli(&["--json", "secret", "reveal", "MULTI"], None).json();
    assert_eq!(revealed["value"], "line one\nline two\n");
}

#[test]
fn trash_restore_and_purge() {
    let sb = setup();
    sb.cli(&["secret", "create", "DB_PASS", "--type", "text"], Some("db-pass-1\n"))
        .ok();
    sb.cli(&["secret", "update", "DB_PASS", "--value-stdin"], Some("db-pass-2\n"))
        .ok();

    let deleted = sb.cli(&["secret", "delete", "DB_PASS"], None);
    assert!(deleted.ok().contains("trash"), "{deleted:#?}");
    sb.cli(&["secret", "get", "DB_PASS"], None)
        .fails_with("secret.not_found");
    assert!(!sb.cli(&["secret", "list"], None).ok().contains("DB_PASS"));
    let trash = sb.cli(&["secret", "trash"], None);
    assert!(trash.ok().contains("DB_PASS"), "{trash:#?}");
    let trash = sb.cli(&["--json", "secret", "trash"], None).json();
    assert_eq!(names(&trash), ["DB_PASS"]);
    assert!(trash["secrets"][0]["deleted_at"].is_string(), "{trash}");

    // The name is reserved while in the trash, and the error names both ways out.
    let taken = sb.cli(&["secret", "create", "DB_PASS", "--type", "text"], Some("x\n"));
    let err = taken.fails_with("secret.name_in_trash");
    assert!(err.contains("restore") && err.contains("purge"), "{err}");

    // Restore brings it back with its history.
    sb.cli(&["secret", "restore", "DB_PASS"], None).ok();
    assert_eq!(sb.cli(&["secret", "reveal", "DB_PASS"], None).ok(), "db-pass-2\n");
    assert_eq!(
        sb.cli(&["secret", "reveal", "DB_PASS", "--version", "1"], None).ok(),
        "db-pass-1\n"
    );
    assert_eq!(sb.cli(&["secret", "trash"], None).ok().trim(), "the trash is empty");

    // Purge is only for trashed secrets, and is for good.
    sb.cli(&["secret", "purge", "DB_PASS"], None)
        .fails_with("secret.not_found");
    sb.cli(&["secret", "delete", "DB_PASS"], None).ok();
    sb.cli(&["secret", "purge", "DB_PASS"], None).ok();
    sb.cli(&["secret", "restore", "DB_PASS"], None)
        .fails_with("secret.not_found");
    assert_eq!(
        names(&sb.cli(&["--json", "secret", "trash"], None).json()),
        Vec::<&str>::new()
    );
    sb.cli(&["secret", "create", "DB_PASS", "--type", "text"], Some("fresh\n"))
        .ok();
    let details = sb.cli(&["--json", "secret", "get", "DB_PASS"], None).json();
    assert_eq!(details["version"], 1);
}

#[test]
fn smtp_secret_from_a_file() {
    let sb = setup();
    let good = json!({"host": "smtp.example.com", "port": 587, "username": "mailer",
                      "password": "smtp-pass-Hh55", "from": "noreply@example.com"});
    let path = sb.dir.path().join("smtp.json");
    std::fs::write(&path, good.to_string()).unwrap();
    let created = sb.cli(
        &[
            "secret",
            "create",
            "MAILER",
            "--type",
            "smtp",
            "--value-file",
            path.to_str().unwrap(),
        ],
        None,
    );
    created.ok();
    assert!(!created.all().contains("smtp-pass-Hh55"));

    // Non-sensitive fields are shown, the password is not.
    let get = sb.cli(&["secret", "get", "MAILER"], None);
    assert!(get.ok().contains("smtp.example.com"), "{get:#?}");
    assert!(!get.all().contains("smtp-pass-Hh55"), "{get:#?}");
    let details = sb.cli(&["--json", "secret", "get", "MAILER"], None).json();
    assert_eq!(details["type"], "smtp");
    assert_eq!(details["details"]["host"], "smtp.example.com");
    assert!(!details.to_string().contains("smtp-pass-Hh55"));

    // reveal prints the JSON object.
    let revealed: Value = serde_json::from_str(sb.cli(&["secret", "reveal", "MAILER"], None).ok()).unwrap();
    assert_eq!(revealed["password"], "smtp-pass-Hh55");
    assert_eq!(revealed["host"], "smtp.example.com");

    // A bad field is named.
    let mut bad = good.clone();
    bad["port"] = json!(70000);
    std::fs::write(&path, bad.to_string()).unwrap();
    let run = sb.cli(
        &[
            "secret",
            "create",
            "BAD_MAILER",
            "--type",
            "smtp",
            "--value-file",
            path.to_str().unwrap(),
        ],
        None,
    );
    assert!(run.fails_with("secret.value_invalid").contains("smtp.port"), "{run:#?}");
    assert!(!run.all().contains("smtp-pass-Hh55"), "{run:#?}");

    // Not JSON at all: refused before sending, without quoting the input.
    let run = sb.cli(
        &["secret", "create", "BAD_MAILER", "--type", "smtp"],
        Some("host=x pass=hunter2\n"),
    );
    assert_eq!(run.status, 1, "{run:#?}");
    assert!(
        run.stderr.contains("JSON object") && !run.stderr.contains("hunter2"),
        "{run:#?}"
    );
    sb.cli(&["secret", "get", "BAD_MAILER"], None)
        .fails_with("secret.not_found");
}

#[test]
fn restricted_values_are_never_revealed() {
    let sb = setup();
    sb.cli(
        &[
            "secret",
            "create",
            "SEALED",
            "--type",
            "text",
            "--visibility",
            "restricted",
        ],
        Some("sealed-value-Qa11\n"),
    )
    .ok();
    let get = sb.cli(&["secret", "get", "SEALED"], None);
    assert!(get.ok().contains("restricted"), "{get:#?}");
    let refused = sb.cli(&["secret", "reveal", "SEALED"], None);
    refused.fails_with("secret.restricted");
    assert!(!refused.all().contains("sealed-value-Qa11"));
    // It can still be replaced, and stays unreadable.
    sb.cli(
        &["secret", "update", "SEALED", "--value-stdin"],
        Some("sealed-value-2\n"),
    )
    .ok();
    sb.cli(&["secret", "reveal", "SEALED", "--version", "1"], None)
        .fails_with("secret.restricted");
}

#[test]
fn bad_input_is_refused_clearly() {
    let sb = setup();
    // A value given as an argument is a usage error that does not repeat it, and creates nothing.
    let run = sb.cli(
        &["secret", "create", "ARG_NAME", "arg-value-Tt42", "--type", "text"],
        Some("v\n"),
    );
    assert_eq!(run.status, 2, "{run:#?}");
    assert!(
        run.stderr.contains("never taken from command-line arguments"),
        "{run:#?}"
    );
    assert!(!run.all().contains("arg-value-Tt42"), "{run:#?}");
    sb.cli(&["secret", "get", "ARG_NAME"], None)
        .fails_with("secret.not_found");

    let run = sb.cli(&["secret", "create", "T", "--type", "text", "--tag", "x"], Some("v\n"));
    assert_eq!(run.status, 2, "{run:#?}");
    assert_eq!(run.stderr.trim(), r#"error: --tag must be KEY=VALUE, got "x""#);

    let run = sb.cli(
        &["secret", "create", "T", "--type", "text", "--metadata", "[1]"],
        Some("v\n"),
    );
    assert_eq!(run.status, 2, "{run:#?}");
    let run = sb.cli(&["secret", "create", "T", "--type", "yaml"], Some("v\n"));
    assert_eq!(run.status, 2, "{run:#?}");

    // Server-side validation comes back as one line with the code.
    let run = sb.cli(&["secret", "create", "9lives", "--type", "text"], Some("v\n"));
    assert!(run.fails_with("secret.name_invalid").contains("letter"), "{run:#?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:#?}");
    sb.cli(&["secret", "create", "EMPTY", "--type", "text"], Some("\n"))
        .fails_with("secret.value_invalid");
    sb.cli(&["secret", "create", "DUP", "--type", "text"], Some("v\n")).ok();
    sb.cli(&["secret", "create", "DUP", "--type", "text"], Some("v\n"))
        .fails_with("secret.name_taken");

    // A path-like name reaches the server as one segment and is judged as a name.
    let run = sb.cli(&["secret", "get", "../x"], None);
    assert_eq!(run.status, 1, "{run:#?}");
    assert!(
        run.stderr.contains("(secret.name_invalid)") || run.stderr.contains("(secret.not_found)"),
        "{run:#?}"
    );

    // No token at all.
    sb.cli_as(None, &["secret", "list"], None)
        .fails_with("auth.missing_token");
    sb.cli_as(Some("sbx_not-a-real-token"), &["secret", "list"], None)
        .fails_with("auth.invalid_token");
}

#[test]
fn json_output_parses() {
    let sb = setup();
    sb.cli(
        &["--json", "secret", "create", "J", "--type", "text"],
        Some("json-value\n"),
    )
    .json();
    let list = sb.cli(&["secret", "list", "--json"], None).json();
    assert_eq!(names(&list), ["J"]);
    let get = sb.cli(&["--json", "secret", "get", "J"], None).json();
    assert_eq!(get["name"], "J");
    assert!(get.get("value").is_none(), "{get}");
    let who = sb.cli(&["--json", "whoami"], None).json();
    assert_eq!(who["name"], sb.bootstrap.email.as_str());
    assert_eq!(who["workspace"], sb.bootstrap.workspace.as_str());
    assert_eq!(who["role"], "owner");
    let who = sb.cli(&["whoami"], None);
    assert!(who.ok().contains(&sb.bootstrap.email), "{who:#?}");
}

#[test]
fn import_a_dotenv_file_with_a_dry_run_and_export_it_back() {
    let sb = crate::support::setup();
    sb.cli(&["secret", "create", "KEEP", "--type", "text"], Some("same"))
        .ok();
    sb.cli(&["secret", "create", "CHANGE", "--type", "text"], Some("old"))
        .ok();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.env");
    std::fs::write(
        &file,
        "# app settings\nexport KEEP=same\nCHANGE=\"new value\"\nNEW='lit $X'\nMULTI=\"a\nb\"\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let dry = sb.cli(&["--json", "import", path, "--dry-run"], None).json();
    assert_eq!(dry["created"], serde_json::json!(["MULTI", "NEW"]));
    assert_eq!(dry["changed"], serde_json::json!(["CHANGE"]));
    assert_eq!(dry["unchanged"], serde_json::json!(["KEEP"]));
    assert!(
        sb.cli(&["secret", "get", "NEW"], None).status != 0,
        "a dry run writes nothing"
    );
    let run = sb.cli(&["import", path], None);
    assert!(
        run.ok().contains("created") && run.stderr.contains("2 created, 1 changed, 1 unchanged"),
        "{run:#?}"
    );
    assert_eq!(
        sb.cli(&["secret", "reveal", "CHANGE"], None).ok().trim_end(),
        "new value"
    );
    assert_eq!(sb.cli(&["secret", "reveal", "MULTI"], None).ok().trim_end(), "a\nb");

    let bad = dir.path().join("bad.env");
    std::fs::write(&bad, "GOOD=1\n9BAD=2\nnot a line\n").unwrap();
    let refused = sb.cli(&["import", bad.to_str().unwrap()], None);
    assert_eq!(refused.status, 1, "{refused:#?}");
    assert!(
        refused.stderr.contains("line 2:") && refused.stderr.contains("line 3:"),
        "{refused:#?}"
    );
    assert!(
        sb.cli(&["secret", "get", "GOOD"], None).status != 0,
        "nothing was imported"
    );

    let exported = sb.cli(&["export"], None);
    let text = exported.ok();
    assert!(
        text.contains("CHANGE='new value'") && text.contains("MULTI='a\nb'"),
        "{text}"
    );
    let json = sb.cli(&["export", "--format", "json"], None).json();
    assert_eq!(json["NEW"], "lit $X");
}

/// Issue 9, item 12: `secret update` reads a new value only when asked (`--value-stdin`,
/// `--value-file`, `--prompt-value`); a value piped without the flag is refused, not ignored.
#[test]
fn issue_9_update_never_ignores_a_piped_value() {
    let sb = setup();
    sb.cli(&["secret", "create", "K", "--type", "text"], Some("first")).ok();
    let reveal = || sb.cli(&["secret", "reveal", "K"], None).ok().to_owned();
    let version = || sb.cli(&["--json", "secret", "get", "K"], None).json()["version"].clone();

    for args in [
        &["secret", "update", "K"][..],
        &["secret", "update", "K", "--description", "d"][..],
    ] {
        let run = sb.cli(args, Some("piped-value-Zq7"));
        assert_eq!(run.status, 2, "{args:?}: {run:#?}");
        assert!(run.stderr.contains("--value-stdin"), "{run:#?}");
        assert!(
            !run.all().contains("piped-value-Zq7"),
            "the value is not repeated: {run:#?}"
        );
    }
    assert_eq!(reveal(), "first\n");
    assert_eq!(version(), 1);
    let details = sb.cli(&["--json", "secret", "get", "K"], None).json();
    assert_eq!(details["description"], "", "nothing was changed: {details}");

    sb.cli(&["secret", "update", "K", "--value-stdin"], Some("second\n"))
        .ok();
    assert_eq!(reveal(), "second\n");
    assert_eq!(version(), 2);
    // Nothing piped (stdin is /dev/null, or an empty pipe): other changes go through.
    sb.cli(&["secret", "update", "K", "--description", "d"], None).ok();
    sb.cli(&["secret", "update", "K", "--description", "e"], Some("")).ok();
    assert_eq!(version(), 2);

    let help = sb.cli(&["secret", "update", "--help"], None);
    assert!(help.ok().contains("--value-stdin"), "{help:#?}");
    assert!(
        !help.ok().contains("from stdin when stdin is not a terminal"),
        "update's help describes update: {help:#?}"
    );
}

/// `--type database` with a JSON object on stdin; `run` gets the URL (issue 10).
#[test]
fn database_secret_from_stdin_gives_programs_its_url() {
    let sb = setup();
    let value = json!({"engine": "postgres", "host": "db.example.com", "database": "app",
                       "username": "app", "password": "db-pass:Qq77"});
    sb.cli(
        &["secret", "create", "DATABASE_URL", "--type", "database"],
        Some(&value.to_string()),
    )
    .ok();
    let details = sb.cli(&["--json", "secret", "get", "DATABASE_URL"], None).json();
    assert_eq!(details["type"], "database");
    assert_eq!(details["details"]["port"], 5432);
    assert!(!details.to_string().contains("db-pass"));
    let listed = sb.cli(&["--json", "secret", "list", "--type", "database"], None).json();
    assert_eq!(names(&listed), ["DATABASE_URL"]);
    let printed = sb.cli(
        &["run", "--no-redact", "--", "sh", "-c", "printf %s \"$DATABASE_URL\""],
        None,
    );
    assert_eq!(printed.ok(), "postgres://app:db-pass%3AQq77@db.example.com:5432/app");
    let run = sb.cli(&["secret", "create", "X", "--type", "nosuch"], Some("{}"));
    assert_eq!(run.status, 2, "{run:#?}");
    assert!(
        run.stderr.contains("database, ssh_key"),
        "the help lists every type: {run:#?}"
    );
}
