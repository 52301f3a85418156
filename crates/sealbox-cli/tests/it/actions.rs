//! `sealbox action ...` against a real server (started with --allow-private-destinations) and a
//! recording HTTP peer on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::support::{Sealbox, start};

const SECRET: &str = "cli-action-token-8a7b6c";

/// A minimal HTTP/1.1 peer: records each request's head and body, answers 200 with the request's
/// `authorization` header in the body and in an `x-echo` header.
struct Peer {
    url: String,
    received: Arc<Mutex<Vec<String>>>,
}

fn peer() -> Peer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let auth = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("authorization: ")
                        .or_else(|| l.strip_prefix("Authorization: "))
                })
                .unwrap_or_default()
                .to_owned();
            log.lock()
                .unwrap()
                .push(format!("{head}\n{}", String::from_utf8_lossy(&body)));
            let reply = format!("you sent {auth}");
            // `/status/NNN` answers with that status.
            let status = head
                .split_whitespace()
                .nth(1)
                .and_then(|path| path.strip_prefix("/status/"))
                .and_then(|code| code.parse::<u16>().ok())
                .unwrap_or(200);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Whatever\r\ncontent-type: text/plain\r\nx-echo: {auth}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    Peer { url, received }
}

fn write_spec(sb: &Sealbox, file: &str, spec: serde_json::Value) -> String {
    let path = sb.dir.path().join(file);
    std::fs::write(&path, spec.to_string()).unwrap();
    path.display().to_string()
}

#[test]
fn create_list_get_and_run_an_http_action() {
    let sb = start(&["--allow-private-destinations"]);
    let peer = peer();
    sb.cli(
        &["secret", "create", "API_TOKEN", "--type", "text"],
        Some(&format!("{SECRET}\n")),
    )
    .ok();
    // The file leaves `kind` out; --kind fills it in.
    let spec = write_spec(
        &sb,
        "hook.json",
        json!({"method": "POST", "url": format!("{}/orders/{{input.order}}", peer.url),
               "headers": {"Authorization": "Bearer {secrets.API_TOKEN}"}, "body": "order {input.order}"}),
    );
    let created = sb
        .cli(
            &["--json", "action", "create", "hook", "--kind", "http", "--spec", &spec],
            None,
        )
        .json();
    assert_eq!(created["name"], "hook");
    assert_eq!(created["kind"], "http");
    assert_eq!(created["secrets"], json!(["API_TOKEN"]));
    assert_eq!(created["inputs"], json!(["order"]));

    let listed = sb.cli(&["--json", "action", "list"], None).json();
    assert_eq!(listed["actions"][0]["name"], "hook");
    let table = sb.cli(&["action", "list"], None);
    let out = table.ok();
    assert!(out.starts_with("NAME"), "{out}");
    assert!(
        out.contains("hook") && out.contains("API_TOKEN") && out.contains("order"),
        "{out}"
    );
    let shown = sb.cli(&["action", "get", "hook"], None);
    assert!(shown.ok().contains("Bearer {secrets.API_TOKEN}"), "{shown:#?}");

    let ran = sb
        .cli(&["--json", "action", "run", "hook", "--input", "order=17"], None)
        .json();
    assert_eq!(ran["http"]["status"], 200);
    assert_eq!(ran["http"]["body"], "you sent Bearer [REDACTED]");
    let received = peer.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    assert!(received[0].starts_with("POST /orders/17 "), "{}", received[0]);
    assert!(received[0].contains(&format!("Bearer {SECRET}")), "{}", received[0]);
    assert!(received[0].ends_with("order 17"), "{}", received[0]);

    // Tables: the status and headers on stderr, the body on stdout; never the value.
    let run = sb.cli(&["action", "run", "hook", "--input", "order=18"], None);
    assert_eq!(run.ok().trim(), "you sent Bearer [REDACTED]");
    assert!(run.stderr.contains("127.0.0.1 answered 200"), "{run:#?}");
    assert!(run.stderr.contains("x-echo: Bearer [REDACTED]"), "{run:#?}");
    assert!(!run.all().contains(SECRET));

    // Missing input: the server's error, exit code 1.
    sb.cli(&["action", "run", "hook"], None)
        .fails_with("action.input_invalid");
}

#[test]
fn unsaved_runs_updates_deletes_and_usage_errors() {
    let sb = start(&["--allow-private-destinations"]);
    let peer = peer();
    sb.cli(
        &["secret", "create", "API_TOKEN", "--type", "text"],
        Some(&format!("{SECRET}\n")),
    )
    .ok();
    let spec = write_spec(
        &sb,
        "once.json",
        json!({"kind": "http", "method": "GET", "url": format!("{}/ping", peer.url),
               "headers": {"Authorization": "{secrets.API_TOKEN}"}}),
    );
    let ran = sb.cli(&["--json", "action", "run", "--spec", &spec], None).json();
    assert_eq!(ran["action"], "(unsaved)");
    assert_eq!(ran["http"]["body"], "you sent [REDACTED]");
    assert!(
        sb.cli(&["--json", "action", "list"], None).json()["actions"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // --kind must agree with the file's kind.
    let mismatch = sb.cli(&["action", "create", "x", "--kind", "sqs", "--spec", &spec], None);
    assert_eq!(mismatch.status, 2, "{mismatch:#?}");
    assert!(mismatch.stderr.contains("--kind sqs"), "{mismatch:#?}");
    // Two secret references in one field: refused by the server, naming the field.
    let two = write_spec(
        &sb,
        "two.json",
        json!({"kind": "http", "method": "GET", "url": format!("{}/x", peer.url),
               "headers": {"Authorization": "{secrets.A}{secrets.B}"}}),
    );
    let refused = sb.cli(&["action", "create", "two", "--spec", &two], None);
    assert!(
        refused
            .fails_with("action.definition_invalid")
            .contains("headers.Authorization")
    );

    sb.cli(&["action", "create", "ping", "--spec", &spec], None).ok();
    let moved = write_spec(
        &sb,
        "moved.json",
        json!({"kind": "http", "method": "GET", "url": format!("{}/moved", peer.url)}),
    );
    let updated = sb
        .cli(&["--json", "action", "update", "ping", "--spec", &moved], None)
        .json();
    assert_eq!(updated["secrets"], json!([]));
    sb.cli(&["action", "run", "ping"], None).ok();
    assert!(peer.received.lock().unwrap().last().unwrap().starts_with("GET /moved "));
    let deleted = sb.cli(&["action", "delete", "ping"], None);
    assert!(deleted.ok().contains("deleted action ping"));
    sb.cli(&["action", "get", "ping"], None).fails_with("action.not_found");
}

/// Like `curl --fail`: a 4xx or 5xx answer exits 1 after printing the (redacted) reply; 2xx and
/// 3xx exit 0.
#[test]
fn a_4xx_or_5xx_answer_exits_1_with_the_reply_printed() {
    let sb = start(&["--allow-private-destinations"]);
    let peer = peer();
    sb.cli(
        &["secret", "create", "API_TOKEN", "--type", "text"],
        Some(&format!("{SECRET}\n")),
    )
    .ok();
    let spec = |status: u16| {
        write_spec(
            &sb,
            &format!("s{status}.json"),
            json!({"kind": "http", "method": "GET", "url": format!("{}/status/{status}", peer.url),
                   "headers": {"Authorization": "Bearer {secrets.API_TOKEN}"}}),
        )
    };
    for status in [404u16, 503] {
        let run = sb.cli(&["action", "run", "--spec", &spec(status)], None);
        assert_eq!(run.status, 1, "{run:#?}");
        assert_eq!(run.stdout.trim(), "you sent Bearer [REDACTED]", "{run:#?}");
        assert!(run.stderr.contains(&format!("answered {status}")), "{run:#?}");
        assert!(run.stderr.contains("error: "), "{run:#?}");
        assert!(!run.all().contains(SECRET));
        let json = sb.cli(&["--json", "action", "run", "--spec", &spec(status)], None);
        assert_eq!(json.status, 1, "{json:#?}");
        let reply: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(reply["http"]["status"], status);
    }
    for status in [201u16, 302] {
        let run = sb.cli(&["action", "run", "--spec", &spec(status)], None);
        assert_eq!(run.status, 0, "{run:#?}");
    }
}
