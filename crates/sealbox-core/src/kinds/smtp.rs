//! `smtp`: `{host, port, username, password, from}`. Host required; port defaults to 587
//! (STARTTLS). Host, port, username and from are public details; the password is the secret part.

use serde_json::{Value, json};

use super::{Fields, SecretKind, ValidatedValue};

pub const DEFAULT_PORT: u64 = 587;

pub struct Smtp;

impl SecretKind for Smtp {
    fn validate(&self, value: &Value) -> Result<ValidatedValue, Vec<String>> {
        let mut f = Fields::new("smtp", value, &["host", "port", "username", "password", "from"])?;
        let host = f.string("host", true, 253);
        if let Some(h) = &host
            && (h
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "/@?#".contains(c)))
        {
            f.problem("host", "must be a host name or IP address");
        }
        let port = match f.raw("port") {
            None => Some(DEFAULT_PORT),
            Some(p) => match p.as_u64() {
                Some(n) if (1..=65535).contains(&n) => Some(n),
                _ => {
                    f.problem("port", "must be 1-65535");
                    None
                }
            },
        };
        let username = f.string("username", false, 256);
        let password = f.string("password", false, 1024);
        let from = f.string("from", false, 254);
        if let Some(addr) = &from
            && !matches!(addr.split_once('@'), Some((l, d)) if !l.is_empty() && !d.is_empty() && !addr.contains(char::is_whitespace))
        {
            f.problem("from", "must be an e-mail address like alerts@example.com");
        }
        let canonical = json!({ "host": host, "port": port, "username": username, "password": password, "from": from });
        let details = json!({ "host": host, "port": port, "username": username, "from": from });
        f.finish(canonical, details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_the_port_and_names_each_broken_field() {
        let v = Smtp
            .validate(&json!({"host": "smtp.example.com", "username": "u", "password": "p"}))
            .unwrap();
        assert_eq!(v.details["port"], 587);
        assert!(v.details.get("password").is_none());
        let problems = Smtp
            .validate(&json!({"port": 70000, "from": "nope", "extra": 1}))
            .err()
            .unwrap();
        assert!(problems.iter().any(|p| p == "smtp.host: is required"), "{problems:?}");
        assert!(
            problems.iter().any(|p| p == "smtp.port: must be 1-65535"),
            "{problems:?}"
        );
        assert!(problems.iter().any(|p| p.starts_with("smtp.from:")), "{problems:?}");
        assert!(
            problems.iter().any(|p| p.starts_with("smtp.\"extra\": unknown field")),
            "{problems:?}"
        );
        assert!(Smtp.validate(&json!("host")).is_err());
    }
}
