//! `smtp`: `{host, port, username, password, from}`. Host required; port defaults to 587
//! (STARTTLS). Host, port, username and from are public details; the password is the secret part.

use serde_json::{Value, json};

use sealbox_types::SecretType;

use super::{Description, FieldSpec, Fields, Input, SecretKind, ValidatedValue};

pub const DEFAULT_PORT: u64 = 587;

pub struct Smtp;

const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "host",
        form: "host",
        label: "Host",
        input: Input::Text,
        sensitive: false,
        required: true,
        default: None,
        placeholder: "smtp.example.com",
        max_chars: 253,
    },
    FieldSpec {
        name: "port",
        form: "port",
        label: "Port",
        input: Input::Number,
        sensitive: false,
        required: false,
        default: Some("587"),
        placeholder: "",
        max_chars: 5,
    },
    FieldSpec {
        name: "username",
        form: "username",
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
        form: "password",
        label: "Password",
        input: Input::Password,
        sensitive: true,
        required: false,
        default: None,
        placeholder: "",
        max_chars: 1024,
    },
    FieldSpec {
        name: "from",
        form: "from",
        label: "From",
        input: Input::Text,
        sensitive: false,
        required: false,
        default: None,
        placeholder: "noreply@example.com",
        max_chars: 254,
    },
];

const DESCRIPTION: Description = Description {
    secret_type: SecretType::Smtp,
    label: "SMTP",
    structured: true,
    fields: FIELDS,
};

impl SecretKind for Smtp {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    fn validate(&self, value: &Value) -> Result<ValidatedValue, Vec<String>> {
        let mut f = Fields::new(self, value)?;
        let host = f.string("host");
        if let Some(h) = &host
            && (h
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "/@?#".contains(c)))
        {
            f.problem("host", "must be a host name or IP address");
        }
        let port = f.port("port", Some(DEFAULT_PORT));
        let username = f.string("username");
        let password = f.string("password");
        let from = f.string("from");
        if let Some(addr) = &from
            && !matches!(addr.split_once('@'), Some((l, d)) if !l.is_empty() && !d.is_empty() && !addr.contains(char::is_whitespace))
        {
            f.problem("from", "must be an e-mail address like alerts@example.com");
        }
        let canonical = json!({ "host": host, "port": port, "username": username, "password": password, "from": from });
        f.finish(canonical)
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
