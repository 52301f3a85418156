//! `database`: `{engine, host, port, database, username, password, options}`. Engine and host
//! required; the port defaults per engine; `options` is URL query text (`sslmode=require&x=y`).
//! The password is the secret part. References also offer a derived `url`
//! (`postgres://user:pass@host:5432/db?options`, user, password and database percent-encoded,
//! an IPv6 host in brackets), and the environment and `{secrets.NAME}` give that URL, since
//! applications want a `DATABASE_URL`.

use std::net::Ipv6Addr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sealbox_types::SecretType;
use serde_json::{Value, json};

use super::{Description, FieldSpec, Fields, Input, SecretKind, ValidatedValue};

pub struct Database;

/// The engines, each also the URL scheme; [`default_port`] knows each one's port.
const ENGINE_NAMES: &[&str] = &["postgres", "mysql", "mariadb", "sqlserver", "oracle", "mongodb"];

/// Everything but RFC 3986's unreserved characters is escaped in the user, password and path.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "engine",
        form: "db_engine",
        label: "Engine",
        input: Input::Choice(ENGINE_NAMES),
        sensitive: false,
        required: true,
        default: None,
        placeholder: "",
        max_chars: 16,
    },
    FieldSpec {
        name: "host",
        form: "db_host",
        label: "Host",
        input: Input::Text,
        sensitive: false,
        required: true,
        default: None,
        placeholder: "db.example.com",
        max_chars: 253,
    },
    FieldSpec {
        name: "port",
        form: "db_port",
        label: "Port",
        input: Input::Number,
        sensitive: false,
        required: false,
        default: None,
        placeholder: "the engine's default",
        max_chars: 5,
    },
    FieldSpec {
        name: "database",
        form: "db_name",
        label: "Database",
        input: Input::Text,
        sensitive: false,
        required: false,
        default: None,
        placeholder: "app",
        max_chars: 128,
    },
    FieldSpec {
        name: "username",
        form: "db_username",
        label: "Username",
        input: Input::Text,
        sensitive: false,
        required: false,
        default: None,
        placeholder: "",
        max_chars: 256,
    },
    FieldSpec {
        name: "password",
        form: "db_password",
        label: "Password",
        input: Input::Password,
        sensitive: true,
        required: false,
        default: None,
        placeholder: "",
        max_chars: 1024,
    },
    FieldSpec {
        name: "options",
        form: "db_options",
        label: "Options",
        input: Input::Text,
        sensitive: false,
        required: false,
        default: None,
        placeholder: "sslmode=require",
        max_chars: 1024,
    },
];

fn default_port(engine: &str) -> Option<u64> {
    match engine {
        "postgres" => Some(5432),
        "mysql" | "mariadb" => Some(3306),
        "sqlserver" => Some(1433),
        "oracle" => Some(1521),
        "mongodb" => Some(27017),
        _ => None,
    }
}

/// A host name (letters, digits, `-`, `.`, `_`), an IPv4 address, or an IPv6 address with or
/// without brackets; stored without brackets.
fn host_of(raw: &str) -> Option<String> {
    let bare = raw.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(raw);
    if bare.contains(':') {
        return bare.parse::<Ipv6Addr>().ok().map(|_| bare.to_owned());
    }
    let ok = !bare.is_empty()
        && bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    ok.then(|| bare.to_owned())
}

/// `k=v&k2=v2` as it appears in a URL query: every pair has a key, no spaces or `#`.
fn options_ok(options: &str) -> bool {
    !options.contains(|c: char| c.is_whitespace() || c.is_control() || c == '#')
        && options
            .split('&')
            .all(|pair| pair.split_once('=').is_some_and(|(k, _)| !k.is_empty()))
}

fn text<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value.get(field).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `engine://user:password@host:port/database?options`.
fn url(value: &Value) -> Option<String> {
    let engine = text(value, "engine")?;
    let host = text(value, "host")?;
    let mut url = format!("{engine}://");
    if let Some(user) = text(value, "username") {
        url.push_str(&utf8_percent_encode(user, COMPONENT).to_string());
        if let Some(password) = text(value, "password") {
            url.push(':');
            url.push_str(&utf8_percent_encode(password, COMPONENT).to_string());
        }
        url.push('@');
    }
    if host.contains(':') {
        url.push_str(&format!("[{host}]"));
    } else {
        url.push_str(host);
    }
    if let Some(port) = value
        .get("port")
        .and_then(Value::as_u64)
        .or_else(|| default_port(engine))
    {
        url.push_str(&format!(":{port}"));
    }
    url.push('/');
    if let Some(database) = text(value, "database") {
        url.push_str(&utf8_percent_encode(database, COMPONENT).to_string());
    }
    if let Some(options) = text(value, "options") {
        url.push('?');
        url.push_str(options);
    }
    Some(url)
}

const DESCRIPTION: Description = Description {
    secret_type: SecretType::Database,
    label: "Database",
    structured: true,
    fields: FIELDS,
};

impl SecretKind for Database {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    fn derived(&self, value: &Value, field: &str) -> Option<String> {
        (field == "url").then(|| url(value)).flatten()
    }

    fn whole_text(&self, value: &Value) -> String {
        url(value).unwrap_or_else(|| value.to_string())
    }

    fn validate(&self, value: &Value) -> Result<ValidatedValue, Vec<String>> {
        let mut f = Fields::new(self, value)?;
        let engine = f.string("engine");
        if engine.as_deref().is_some_and(|e| default_port(e).is_none()) {
            f.problem("engine", &format!("must be one of {}", ENGINE_NAMES.join(", ")));
        }
        let host = f.string("host").and_then(|h| {
            let parsed = host_of(&h);
            if parsed.is_none() {
                f.problem("host", "must be a host name or IP address");
            }
            parsed
        });
        let port = f.port("port", engine.as_deref().and_then(default_port));
        let database = f.string("database");
        let username = f.string("username");
        let password = f.string("password");
        let options = f.string("options");
        if options.as_deref().is_some_and(|o| !o.is_empty() && !options_ok(o)) {
            f.problem(
                "options",
                "must be URL query text like sslmode=require&connect_timeout=10",
            );
        }
        let canonical = json!({
            "engine": engine, "host": host, "port": port, "database": database,
            "username": username, "password": password, "options": options,
        });
        f.finish(canonical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::plaintext_str;

    fn stored(value: Value) -> Value {
        let v = Database.validate(&value).unwrap();
        serde_json::from_str(plaintext_str(&v).unwrap()).unwrap()
    }

    #[test]
    fn the_port_defaults_per_engine_and_the_password_is_not_a_detail() {
        let v = Database
            .validate(&json!({"engine": "mysql", "host": "db", "username": "app", "password": "pw"}))
            .unwrap();
        assert_eq!(
            v.details,
            json!({"engine": "mysql", "host": "db", "port": 3306, "username": "app"})
        );
        let v = stored(json!({"engine": "postgres", "host": "db"}));
        assert_eq!(v["port"], 5432);
        assert_eq!(
            stored(json!({"engine": "sqlserver", "host": "db", "port": 1434}))["port"],
            1434
        );
    }

    #[test]
    fn every_engine_has_a_default_port() {
        assert!(ENGINE_NAMES.iter().all(|e| default_port(e).is_some()));
    }

    #[test]
    fn each_broken_field_is_named() {
        let problems = Database
            .validate(&json!({"engine": "db2", "host": "a b", "port": 0, "options": "x y", "extra": 1}))
            .err()
            .unwrap();
        for expected in [
            "database.engine: must be one of postgres, mysql, mariadb, sqlserver, oracle, mongodb",
            "database.host: must be a host name or IP address",
            "database.port: must be 1-65535",
            "database.options: must be URL query text like sslmode=require&connect_timeout=10",
        ] {
            assert!(problems.iter().any(|p| p == expected), "{expected} in {problems:?}");
        }
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("database.\"extra\": unknown field"))
        );
        let problems = Database.validate(&json!({})).err().unwrap();
        assert!(problems.contains(&"database.engine: is required".to_owned()));
        assert!(problems.contains(&"database.host: is required".to_owned()));
        assert!(
            Database
                .validate(&json!({"engine": "postgres", "host": "::1::2"}))
                .is_err()
        );
        assert!(
            Database
                .validate(&json!({"engine": "postgres", "host": "h", "options": "=v"}))
                .is_err()
        );
    }

    #[test]
    fn the_url_escapes_user_password_and_database_and_brackets_ipv6() {
        let v = stored(json!({
            "engine": "postgres", "host": "[2001:db8::1]", "database": "my db/1",
            "username": "us@r:x", "password": "p@ss:w/o?r#d%", "options": "sslmode=require&application_name=app",
        }));
        assert_eq!(v["host"], "2001:db8::1", "stored without brackets");
        let url = Database.derived(&v, "url").unwrap();
        assert_eq!(
            url,
            "postgres://us%40r%3Ax:p%40ss%3Aw%2Fo%3Fr%23d%25@[2001:db8::1]:5432/my%20db%2F1?sslmode=require&application_name=app"
        );
        let parsed = url::Url::parse(&url).unwrap();
        assert_eq!(parsed.username(), "us%40r%3Ax");
        assert_eq!(parsed.password(), Some("p%40ss%3Aw%2Fo%3Fr%23d%25"));
        assert_eq!(parsed.host_str(), Some("[2001:db8::1]"));
        assert_eq!(parsed.port(), Some(5432));
        assert_eq!(parsed.query(), Some("sslmode=require&application_name=app"));
        let decoded: String = percent_encoding::percent_decode_str(parsed.password().unwrap())
            .decode_utf8()
            .unwrap()
            .into_owned();
        assert_eq!(decoded, "p@ss:w/o?r#d%");
        assert_eq!(Database.whole_text(&v), url);
        let bare = stored(json!({"engine": "mysql", "host": "10.0.0.5"}));
        assert_eq!(Database.whole_text(&bare), "mysql://10.0.0.5:3306/");
        assert_eq!(Database.derived(&bare, "other"), None);
    }
}
