//! What `sealbox run` masks in a program's output, and with what: the matching itself is
//! sealbox-redact's streaming engine (the same one that redacts action replies in the server).

/// What a redacted value is replaced with.
pub const MASK: &[u8] = b"*****";
/// Shorter values are not redacted: they would mask ordinary text.
pub const MIN_CHARS: usize = 4;

/// The matcher for the secret values of at least [`MIN_CHARS`] characters; each output stream
/// gets its own `matcher.stream(MASK)`.
pub fn matcher<'a>(secret_values: impl IntoIterator<Item = &'a str>) -> sealbox_redact::Redactor {
    sealbox_redact::Redactor::new(secret_values.into_iter().filter(|v| v.chars().count() >= MIN_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(values: &[&str], chunks: &[&[u8]]) -> String {
        let mut stream = matcher(values.iter().copied()).stream(MASK);
        let mut out = Vec::new();
        for c in chunks {
            out.extend(stream.push(c));
        }
        out.extend(stream.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn values_of_four_characters_or_more_are_masked() {
        assert_eq!(
            run(&["hunter2 pw", "abc"], &[b"pw=hun", b"ter2", b" pw; abc"]),
            "pw=*****; abc"
        );
        assert_eq!(run(&["abcd"], &[b"abcd"]), "*****");
    }
}
