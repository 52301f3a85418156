//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`), as pure functions: canonical request, string to
//! sign, signing key, signature and the `Authorization` header. Unit-tested against AWS's published
//! Signature Version 4 test suite and the IAM `ListUsers` example of the AWS documentation.
//!
//! The path is taken as sent on the wire (already percent-encoded) and encoded once more, as every
//! AWS service except S3 expects; it is not normalised (no `.`/`..` removal).

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The credentials a request is signed with. No `Debug`.
pub struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a SecretString,
    /// A temporary session token; sent (and signed) as `x-amz-security-token`.
    pub session_token: Option<&'a str>,
}

/// Where and when: `amz_date` is `YYYYMMDDTHHMMSSZ` (UTC).
pub struct Scope<'a> {
    pub amz_date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

impl Scope<'_> {
    fn date(&self) -> &str {
        self.amz_date.get(..8).unwrap_or(self.amz_date)
    }

    /// `YYYYMMDD/region/service/aws4_request`.
    pub fn credential_scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date(), self.region, self.service)
    }
}

/// The parts of a request that are signed. `headers` must include `host`; `x-amz-date` (and
/// `x-amz-security-token` with a session token) are added when missing.
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent, e.g. `/` or `/123456789012/queue`.
    pub path: &'a str,
    /// Query parameters, not yet encoded.
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
    pub payload: &'a [u8],
}

/// The result of signing: the intermediate strings (for tests and troubleshooting) and the headers
/// to add to the request.
pub struct Signed {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signed_headers: String,
    pub signature: String,
    pub authorization: String,
    /// Headers the request must carry besides its own: `x-amz-date`, `x-amz-security-token` if
    /// any, and `authorization`.
    pub headers_to_add: Vec<(String, String)>,
}

/// `YYYYMMDDTHHMMSSZ` for seconds since the Unix epoch (UTC).
pub fn amz_date(unix_secs: i64) -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::from_unix_timestamp(unix_secs)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "19700101T000000Z".to_owned())
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// RFC 3986 percent-encoding of everything but the unreserved characters `A-Z a-z 0-9 - . _ ~`
/// (and `/` when `keep_slash`).
pub fn uri_encode(input: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for byte in input.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Lower-cased names, sorted; values trimmed with inner runs of white space folded to one space;
/// repeated names joined with `,`. Returns the canonical header block and the signed header list.
fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut merged: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let name = name.trim().to_ascii_lowercase();
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        match merged.iter_mut().find(|(n, _)| *n == name) {
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            None => merged.push((name, value)),
        }
    }
    merged.sort_by(|a, b| a.0.cmp(&b.0));
    let block = merged.iter().map(|(n, v)| format!("{n}:{v}\n")).collect::<String>();
    let signed = merged.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(";");
    (block, signed)
}

/// The canonical request and the signed header list, for headers that already include every
/// header to sign.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    payload: &[u8],
) -> (String, String) {
    let path = if path.is_empty() { "/" } else { path };
    let (block, signed) = canonical_headers(headers);
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        uri_encode(path, true),
        canonical_query(query),
        block,
        signed,
        sha256_hex(payload)
    );
    (canonical, signed)
}

pub fn string_to_sign(scope: &Scope<'_>, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        scope.amz_date,
        scope.credential_scope(),
        sha256_hex(canonical_request.as_bytes())
    )
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0; 32],
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn signing_key(secret_access_key: &SecretString, date: &str, region: &str, service: &str) -> [u8; 32] {
    // EXPOSE: the secret key only keys the first HMAC here; it is not copied anywhere else.
    let secret = secret_access_key.expose_secret();
    let mut seed = Vec::with_capacity(4 + secret.len());
    seed.extend_from_slice(b"AWS4");
    seed.extend_from_slice(secret.as_bytes());
    let k_date = hmac(&seed, date.as_bytes());
    seed.iter_mut().for_each(|b| *b = 0);
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac(signing_key, string_to_sign.as_bytes()))
}

/// Signs a request.
pub fn sign(request: &Request<'_>, credentials: &Credentials<'_>, scope: &Scope<'_>) -> Signed {
    let has = |name: &str| request.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut headers_to_add = Vec::new();
    if !has("x-amz-date") {
        headers_to_add.push(("x-amz-date".to_owned(), scope.amz_date.to_owned()));
    }
    if let Some(token) = credentials.session_token
        && !has("x-amz-security-token")
    {
        headers_to_add.push(("x-amz-security-token".to_owned(), token.to_owned()));
    }
    let all: Vec<(String, String)> = request.headers.iter().chain(headers_to_add.iter()).cloned().collect();
    let (canonical_request, signed_headers) =
        canonical_request(request.method, request.path, request.query, &all, request.payload);
    let string_to_sign = string_to_sign(scope, &canonical_request);
    let key = signing_key(credentials.secret_access_key, scope.date(), scope.region, scope.service);
    let signature = signature(&key, &string_to_sign);
    let authorization = format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id,
        scope.credential_scope()
    );
    headers_to_add.push(("authorization".to_owned(), authorization.clone()));
    Signed {
        canonical_request,
        string_to_sign,
        signed_headers,
        signature,
        authorization,
        headers_to_add,
    }
}

#[cfg(test)]
mod tests {
    //! Vectors from AWS's Signature Version 4 test suite (aws-sig-v4-test-suite: credentials
    //! AKIDEXAMPLE, 2015-08-30T12:36:00Z, us-east-1, service "service") and the IAM ListUsers
    //! example of the AWS documentation ("Create a signed AWS API request").

    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn secret() -> SecretString {
        SecretString::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    struct Vector {
        name: &'static str,
        method: &'static str,
        path: &'static str,
        query: Vec<(String, String)>,
        headers: Vec<(String, String)>,
        body: &'static str,
        creq: Option<String>,
        sts_hash: Option<&'static str>,
        signature: &'static str,
        signed_headers: &'static str,
    }

    fn check(v: Vector, service: &str) {
        let secret = secret();
        let credentials = Credentials {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: &secret,
            session_token: None,
        };
        let scope = Scope {
            amz_date: "20150830T123600Z",
            region: "us-east-1",
            service,
        };
        let mut headers = v.headers.clone();
        headers.push(("X-Amz-Date".into(), "20150830T123600Z".into()));
        let signed = sign(
            &Request {
                method: v.method,
                path: v.path,
                query: &v.query,
                headers: &headers,
                payload: v.body.as_bytes(),
            },
            &credentials,
            &scope,
        );
        if let Some(creq) = &v.creq {
            assert_eq!(&signed.canonical_request, creq, "{}: canonical request", v.name);
        }
        if let Some(hash) = v.sts_hash {
            assert_eq!(
                signed.string_to_sign,
                format!("AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/{service}/aws4_request\n{hash}"),
                "{}: string to sign",
                v.name
            );
        }
        assert_eq!(signed.signature, v.signature, "{}: signature", v.name);
        assert_eq!(signed.signed_headers, v.signed_headers, "{}: signed headers", v.name);
        assert_eq!(
            signed.authorization,
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/{service}/aws4_request, SignedHeaders={}, Signature={}",
                v.signed_headers, v.signature
            ),
            "{}: authorization",
            v.name
        );
        // x-amz-date was given, so only the authorization header is added.
        assert_eq!(signed.headers_to_add.len(), 1);
    }

    #[test]
    fn get_vanilla() {
        check(
            Vector {
                name: "get-vanilla",
                method: "GET",
                path: "/",
                query: vec![],
                headers: h(&[("Host", "example.amazonaws.com")]),
                body: "",
                creq: Some(format!(
                    "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{EMPTY}"
                )),
                sts_hash: Some("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
                signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
                signed_headers: "host;x-amz-date",
            },
            "service",
        );
    }

    #[test]
    fn get_vanilla_query_order_key_case() {
        check(
            Vector {
                name: "get-vanilla-query-order-key-case",
                method: "GET",
                path: "/",
                query: h(&[("Param2", "value2"), ("Param1", "value1")]),
                headers: h(&[("Host", "example.amazonaws.com")]),
                body: "",
                creq: Some(format!(
                    "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{EMPTY}"
                )),
                sts_hash: Some("816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"),
                signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
                signed_headers: "host;x-amz-date",
            },
            "service",
        );
    }

    #[test]
    fn post_vanilla_and_post_vanilla_query() {
        check(
            Vector {
                name: "post-vanilla",
                method: "POST",
                path: "/",
                query: vec![],
                headers: h(&[("Host", "example.amazonaws.com")]),
                body: "",
                creq: None,
                sts_hash: None,
                signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
                signed_headers: "host;x-amz-date",
            },
            "service",
        );
        check(
            Vector {
                name: "post-vanilla-query",
                method: "POST",
                path: "/",
                query: h(&[("Param1", "value1")]),
                headers: h(&[("Host", "example.amazonaws.com")]),
                body: "",
                creq: Some(format!(
                    "POST\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{EMPTY}"
                )),
                sts_hash: Some("9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd"),
                signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
                signed_headers: "host;x-amz-date",
            },
            "service",
        );
    }

    #[test]
    fn post_header_key_case() {
        check(
            Vector {
                name: "post-header-key-case",
                method: "POST",
                path: "/",
                query: vec![],
                headers: h(&[("Host", "example.amazonaws.com"), ("MY-HEADER1", "value1")]),
                body: "",
                creq: Some(format!(
                    "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n{EMPTY}"
                )),
                sts_hash: Some("9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65"),
                signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
                signed_headers: "host;my-header1;x-amz-date",
            },
            "service",
        );
    }

    #[test]
    fn get_header_value_trim() {
        check(
            Vector {
                name: "get-header-value-trim",
                method: "GET",
                path: "/",
                query: vec![],
                headers: h(&[
                    ("Host", "example.amazonaws.com"),
                    ("My-Header1", " value1"),
                    ("My-Header2", " \"a   b   c\""),
                ]),
                body: "",
                creq: None,
                sts_hash: None,
                signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
                signed_headers: "host;my-header1;my-header2;x-amz-date",
            },
            "service",
        );
    }

    #[test]
    fn post_x_www_form_urlencoded() {
        check(
            Vector {
                name: "post-x-www-form-urlencoded",
                method: "POST",
                path: "/",
                query: vec![],
                headers: h(&[("Content-Type", "application/x-www-form-urlencoded"), ("Host", "example.amazonaws.com")]),
                body: "Param1=value1",
                creq: Some(
                    "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e".to_owned(),
                ),
                sts_hash: Some("42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"),
                signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
                signed_headers: "content-type;host;x-amz-date",
            },
            "service",
        );
    }

    #[test]
    fn iam_list_users_from_the_aws_documentation() {
        check(
            Vector {
                name: "iam ListUsers",
                method: "GET",
                path: "/",
                query: h(&[("Action", "ListUsers"), ("Version", "2010-05-08")]),
                headers: h(&[
                    ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
                    ("Host", "iam.amazonaws.com"),
                ]),
                body: "",
                creq: Some(format!(
                    "GET\n/\nAction=ListUsers&Version=2010-05-08\ncontent-type:application/x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n{EMPTY}"
                )),
                sts_hash: Some("f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"),
                signature: "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
                signed_headers: "content-type;host;x-amz-date",
            },
            "iam",
        );
        // The documentation also gives the derived signing key.
        let key = signing_key(&secret(), "20150830", "us-east-1", "iam");
        assert_eq!(
            hex::encode(key),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn date_and_session_token_headers_are_added() {
        let secret = secret();
        let credentials = Credentials {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: &secret,
            session_token: Some("tok"),
        };
        let scope = Scope {
            amz_date: &amz_date(1_440_938_160),
            region: "us-east-1",
            service: "service",
        };
        assert_eq!(scope.amz_date, "20150830T123600Z");
        let headers = h(&[("Host", "example.amazonaws.com")]);
        let signed = sign(
            &Request {
                method: "GET",
                path: "",
                query: &[],
                headers: &headers,
                payload: b"",
            },
            &credentials,
            &scope,
        );
        assert_eq!(signed.signed_headers, "host;x-amz-date;x-amz-security-token");
        let names: Vec<&str> = signed.headers_to_add.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["x-amz-date", "x-amz-security-token", "authorization"]);
        assert!(signed.canonical_request.starts_with("GET\n/\n\n"));
        assert!(!signed.authorization.contains("wJalr"));
    }

    #[test]
    fn encoding_follows_rfc_3986() {
        assert_eq!(uri_encode("a b+c/d~e", false), "a%20b%2Bc%2Fd~e");
        assert_eq!(uri_encode("/123/q%20x", true), "/123/q%2520x");
        assert_eq!(
            canonical_query(&h(&[("b", "2"), ("a", "z"), ("a", "y")])),
            "a=y&a=z&b=2"
        );
    }
}
