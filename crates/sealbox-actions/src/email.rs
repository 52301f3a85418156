//! `email` actions through an `smtp` secret. The conversation is driven step by step so that the
//! rules hold by construction: connect only to a checked address, require STARTTLS before
//! anything but EHLO is said, verify the certificate for the secret's host name, then AUTH, then
//! the message. Bcc recipients are only in the envelope, never in a header.

use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lettre::Address;
use lettre::address::Envelope;
use lettre::message::{Mailbox, Message, MultiPart, SinglePart, header::ContentType};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, CertificateStore, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{innermost, tls_cause};
use crate::model::{Email, EmailSent, SmtpAccount};
use crate::{ActionError, Outbound, guard};

struct Composed {
    envelope: Envelope,
    formatted: Vec<u8>,
}

fn mailbox(raw: &str, what: &str) -> Result<Mailbox, ActionError> {
    raw.trim().parse::<Mailbox>().map_err(|_| {
        ActionError::invalid(format!(
            "{what} is not a valid e-mail address; use name@example.com or Name <name@example.com>"
        ))
    })
}

// EXPOSE (addresses, subject, text, HTML): composed into the message this sender delivers to the
// action's SMTP server, which is what running an action means; errors never quote them.
fn compose(account: &SmtpAccount, email: &Email) -> Result<Composed, ActionError> {
    let from_raw = email
        .from
        .as_ref()
        .map(ExposeSecret::expose_secret)
        .or(account.from.as_deref())
        .filter(|f| !f.trim().is_empty())
        .ok_or_else(|| {
            ActionError::invalid("the e-mail has no sender: give `from` in the action or in the smtp secret")
        })?;
    let from = mailbox(from_raw, "the sender (from)")?;
    if email.to.is_empty() && email.cc.is_empty() && email.bcc.is_empty() {
        return Err(ActionError::invalid(
            "the e-mail has no recipient; give at least one address in to, cc or bcc",
        ));
    }
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(email.subject.expose_secret());
    let mut recipients: Vec<Address> = Vec::new();
    for (field, list) in [("to", &email.to), ("cc", &email.cc), ("bcc", &email.bcc)] {
        for (i, raw) in list.iter().enumerate() {
            let mb = mailbox(raw.expose_secret(), &format!("{field} address {}", i + 1))?;
            if !recipients.contains(&mb.email) {
                recipients.push(mb.email.clone());
            }
            builder = match field {
                "to" => builder.to(mb),
                "cc" => builder.cc(mb),
                // bcc: envelope only.
                _ => builder,
            };
        }
    }
    if recipients.len() > 100 {
        return Err(ActionError::invalid(
            "the e-mail has more than 100 recipients; send fewer at a time",
        ));
    }
    let envelope = Envelope::new(Some(from.email.clone()), recipients)
        .map_err(|_| ActionError::invalid("the e-mail envelope could not be built; check the addresses"))?;
    let builder = builder.envelope(envelope.clone());
    let text = email.text.expose_secret().to_owned();
    let message = match &email.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(text, html.expose_secret().to_owned())),
        None => builder.singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text)),
    }
    .map_err(|e| ActionError::invalid(format!("the e-mail could not be built: {e}")))?;
    Ok(Composed {
        envelope,
        formatted: message.formatted(),
    })
}

/// Removes the credentials (and the encodings AUTH PLAIN and LOGIN send them in) from server text.
struct Scrubber {
    needles: Vec<String>,
}

impl Scrubber {
    fn new(username: Option<&str>, password: Option<&SecretString>) -> Self {
        let mut needles = Vec::new();
        if let Some(password) = password {
            // EXPOSE: only to find and remove the password (and its encodings) in what the server says.
            let pw = password.expose_secret();
            if !pw.is_empty() {
                needles.push(pw.to_owned());
                needles.push(BASE64.encode(pw));
                if let Some(user) = username {
                    needles.push(BASE64.encode(format!("\0{user}\0{pw}")));
                }
            }
        }
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        Scrubber { needles }
    }

    /// The credentials go first, then line breaks; nothing is cut (a cut value could no longer
    /// be found): core shortens the text once it has redacted every value.
    fn clean(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            out = out.replace(needle.as_str(), "[REDACTED]");
        }
        out.chars().filter(|c| !c.is_control()).collect()
    }
}

fn reply_text(response: &Response) -> String {
    let code: u16 = response.code().into();
    let lines: Vec<&str> = response.message().collect();
    format!("{code} {}", lines.join(" ")).trim_end().to_owned()
}

struct Session<'a> {
    host: &'a str,
    scrub: Scrubber,
}

impl Session<'_> {
    fn failed(&self, stage: &'static str, error: lettre::transport::smtp::Error) -> ActionError {
        if error.is_timeout() {
            return ActionError::Timeout {
                host: self.host.to_owned(),
                after: std::time::Duration::ZERO,
            };
        }
        if let Some(detail) = tls_cause(&error) {
            return ActionError::Tls {
                host: self.host.to_owned(),
                detail,
            };
        }
        if let Some(code) = error.status() {
            let code: u16 = code.into();
            let text = std::error::Error::source(&error)
                .map(|s| s.to_string())
                .unwrap_or_default();
            return ActionError::SmtpRejected {
                host: self.host.to_owned(),
                stage,
                code: Some(code),
                text: self.scrub.clean(&format!("{code} {text}")),
            };
        }
        if error.is_response() || error.is_client() {
            return ActionError::SmtpRejected {
                host: self.host.to_owned(),
                stage,
                code: None,
                text: self.scrub.clean(&innermost(&error)),
            };
        }
        ActionError::Connect {
            host: self.host.to_owned(),
            detail: self.scrub.clean(&innermost(&error)),
        }
    }
}

/// The account's host, once its host and port are usable.
fn account_host(account: &SmtpAccount) -> Result<&str, ActionError> {
    let host = account.host.trim();
    if host.is_empty() {
        return Err(ActionError::invalid("the smtp secret has no host; set its host"));
    }
    if account.port == 0 {
        return Err(ActionError::invalid(
            "the smtp secret has port 0; set its port (usually 587)",
        ));
    }
    if account.username.as_deref().is_some_and(|u| !u.is_empty()) && account.password.is_none() {
        return Err(ActionError::invalid(
            "the smtp secret has a username but no password; set its password",
        ));
    }
    Ok(host)
}

impl Outbound {
    /// Checks what [`Outbound::email`] checks before it connects (the message and the account
    /// are usable, the server's address is allowed) and sends nothing.
    pub async fn check_email(&self, account: &SmtpAccount, email: &Email) -> Result<(), ActionError> {
        compose(account, email)?;
        let host = account_host(account)?;
        self.check_destination(host, account.port).await
    }

    /// Sends one e-mail through the account's SMTP server (STARTTLS required).
    pub async fn email(&self, account: &SmtpAccount, email: &Email) -> Result<EmailSent, ActionError> {
        let composed = compose(account, email)?;
        let host = account_host(account)?;
        let credentials = match (&account.username, &account.password) {
            (Some(user), Some(password)) if !user.is_empty() => {
                // EXPOSE: handed to lettre, which sends it only in AUTH, after STARTTLS.
                Some(Credentials::new(user.clone(), password.expose_secret().to_owned()))
            }
            (Some(user), None) if !user.is_empty() => {
                return Err(ActionError::invalid(
                    "the smtp secret has a username but no password; set its password",
                ));
            }
            _ => None,
        };
        let after = self.inner.config.timeout;
        let session = Session {
            host,
            scrub: Scrubber::new(account.username.as_deref(), account.password.as_ref()),
        };
        match tokio::time::timeout(
            after,
            self.email_unbounded(&session, account.port, credentials, &composed),
        )
        .await
        {
            Ok(Err(ActionError::Timeout { host, .. })) => Err(ActionError::Timeout { host, after }),
            Ok(result) => result,
            Err(_) => Err(ActionError::Timeout {
                host: host.to_owned(),
                after,
            }),
        }
    }

    async fn email_unbounded(
        &self,
        session: &Session<'_>,
        port: u16,
        credentials: Option<Credentials>,
        composed: &Composed,
    ) -> Result<EmailSent, ActionError> {
        let host = session.host;
        let config = &self.inner.config;
        let addrs = guard::resolve_checked(host, port, config.allow_private_destinations).await?;
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);

        let mut tls = TlsParameters::builder(bare.to_owned()).certificate_store(CertificateStore::WebpkiRoots);
        for cert in &self.inner.extra_ca {
            let cert = Certificate::from_der(cert.to_vec()).map_err(|_| {
                ActionError::Config("a certificate in the extra CA file is not valid; check the file".into())
            })?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls.build_rustls().map_err(|e| ActionError::Tls {
            host: host.to_owned(),
            detail: innermost(&e),
        })?;
        let hello = ClientId::default();

        let mut conn = connect_first(session, &addrs, config.timeout, &hello).await?;

        // Nothing but EHLO before the connection is encrypted.
        if !conn.can_starttls() {
            conn.abort().await;
            return Err(ActionError::StartTlsUnavailable { host: host.to_owned() });
        }
        if let Err(e) = conn.starttls(tls, &hello).await {
            // No `abort` here: lettre has already closed a refused STARTTLS, and after a failed
            // handshake the connection has no stream left to write QUIT to.
            drop(conn);
            return Err(session.failed("STARTTLS", e));
        }
        if !conn.is_encrypted() {
            conn.abort().await;
            return Err(ActionError::StartTlsUnavailable { host: host.to_owned() });
        }

        if let Some(credentials) = credentials
            && let Err(e) = conn.auth(&[Mechanism::Plain, Mechanism::Login], &credentials).await
        {
            conn.abort().await;
            if e.is_client() && e.status().is_none() {
                return Err(ActionError::SmtpRejected {
                    host: host.to_owned(),
                    stage: "the login",
                    code: None,
                    text: "the server offers neither AUTH PLAIN nor AUTH LOGIN after STARTTLS".into(),
                });
            }
            return Err(session.failed("the login", e));
        }

        let mut mail_options = Vec::new();
        let non_ascii_address = composed
            .envelope
            .from()
            .into_iter()
            .chain(composed.envelope.to())
            .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
        if non_ascii_address {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                conn.abort().await;
                return Err(ActionError::SmtpRejected {
                    host: host.to_owned(),
                    stage: "the sender",
                    code: None,
                    text: "an address is not ASCII and the server does not support SMTPUTF8".into(),
                });
            }
            mail_options.push(MailParameter::SmtpUtfEight);
        }
        if !composed.formatted.is_ascii() && conn.server_info().supports_feature(Extension::EightBitMime) {
            mail_options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }

        if let Err(e) = conn
            .command(Mail::new(composed.envelope.from().cloned(), mail_options))
            .await
        {
            conn.abort().await;
            return Err(session.failed("the sender", e));
        }
        for recipient in composed.envelope.to() {
            if let Err(e) = conn.command(Rcpt::new(recipient.clone(), vec![])).await {
                conn.abort().await;
                return Err(session.failed("a recipient", e));
            }
        }
        if let Err(e) = conn.command(Data).await {
            conn.abort().await;
            return Err(session.failed("the message", e));
        }
        let reply = match conn.message(&composed.formatted).await {
            Ok(reply) => reply,
            Err(e) => {
                conn.abort().await;
                return Err(session.failed("the message", e));
            }
        };
        // The message is accepted; a failing QUIT changes nothing.
        let _ = conn.quit().await;
        Ok(EmailSent {
            recipients: composed.envelope.to().len(),
            server_reply: session.scrub.clean(&reply_text(&reply)),
        })
    }
}

/// Connects to the first checked address that answers (a name may resolve to several, e.g. `::1`
/// and `127.0.0.1` for `localhost`), and reads the greeting and the EHLO answer.
async fn connect_first(
    session: &Session<'_>,
    addrs: &[SocketAddr],
    timeout: std::time::Duration,
    hello: &ClientId,
) -> Result<AsyncSmtpConnection, ActionError> {
    let mut last = None;
    for addr in addrs {
        match AsyncSmtpConnection::connect_tokio1(*addr, Some(timeout), hello, None, None).await {
            Ok(conn) => return Ok(conn),
            // The server answered but refused us: do not try elsewhere.
            Err(e) if e.status().is_some() => return Err(session.failed("the connection", e)),
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) => Err(session.failed("the connection", e)),
        None => Err(ActionError::Resolve {
            host: session.host.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> SmtpAccount {
        SmtpAccount {
            host: "smtp.example.com".into(),
            port: 587,
            username: Some("ada".into()),
            password: Some(SecretString::from("hunter2")),
            from: Some("Ada <ada@example.com>".into()),
        }
    }

    fn email() -> Email {
        Email {
            from: None,
            to: vec!["bob@example.com".into()],
            cc: vec![],
            bcc: vec!["hidden@example.com".into()],
            subject: "Hi".into(),
            text: "hello".into(),
            html: None,
        }
    }

    #[test]
    fn bcc_is_in_the_envelope_only() {
        let c = compose(&account(), &email()).unwrap();
        let text = String::from_utf8(c.formatted).unwrap();
        assert!(!text.to_ascii_lowercase().contains("hidden@example.com"), "{text}");
        assert!(!text.to_ascii_lowercase().contains("bcc:"), "{text}");
        let to: Vec<String> = c.envelope.to().iter().map(|a| a.to_string()).collect();
        assert_eq!(to, ["bob@example.com", "hidden@example.com"]);
        assert_eq!(c.envelope.from().unwrap().to_string(), "ada@example.com");
    }

    #[test]
    fn sender_and_recipients_are_required_and_checked() {
        let mut a = account();
        a.from = None;
        let err = compose(&a, &email()).err().unwrap();
        assert_eq!(
            err.to_string(),
            "the e-mail has no sender: give `from` in the action or in the smtp secret"
        );
        let mut e = email();
        e.to.clear();
        e.bcc.clear();
        assert!(
            compose(&account(), &e)
                .err()
                .unwrap()
                .to_string()
                .contains("no recipient")
        );
        let mut e = email();
        e.cc = vec!["not an address".into()];
        assert_eq!(
            compose(&account(), &e).err().unwrap().to_string(),
            "cc address 1 is not a valid e-mail address; use name@example.com or Name <name@example.com>"
        );
    }

    #[test]
    fn the_scrubber_removes_credentials_and_their_encodings() {
        let pw = SecretString::from("hunter2");
        let s = Scrubber::new(Some("ada"), Some(&pw));
        let plain = BASE64.encode("\0ada\0hunter2");
        let login = BASE64.encode("hunter2");
        let out = s.clean(&format!("535 bad hunter2 {plain} {login}\r\n"));
        assert_eq!(out, "535 bad [REDACTED] [REDACTED] [REDACTED]");
        // Nothing is cut before the credentials are removed (a cut value would stay readable);
        // core shortens the text once every value is redacted.
        let long = format!("535 {} hunter2 end", "x".repeat(491));
        let out = s.clean(&long);
        assert!(out.ends_with("x [REDACTED] end") && !out.contains("hunte"), "{out}");
    }
}
