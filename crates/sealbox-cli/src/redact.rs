//! Redaction of secret values in a program's output, as a stream: a value split across two
//! writes is still caught, because the last bytes that could begin a value are held back until
//! the next write (or the end) decides.

use base64::Engine as _;

/// What a redacted value is replaced with.
pub const MASK: &[u8] = b"*****";
/// Shorter values are not redacted: they would mask ordinary text.
pub const MIN_CHARS: usize = 4;

pub struct Redactor {
    /// Longest first, so a value wins over a shorter one it contains.
    needles: Vec<Vec<u8>>,
    pending: Vec<u8>,
}

impl Redactor {
    /// Redacts every value of at least [`MIN_CHARS`] characters, and its base64 and
    /// URL-encoded forms.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut needles: Vec<Vec<u8>> = Vec::new();
        for value in values.into_iter().filter(|v| v.chars().count() >= MIN_CHARS) {
            needles.push(value.as_bytes().to_vec());
            needles.push(base64::engine::general_purpose::STANDARD.encode(value).into_bytes());
            needles.push(
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .encode(value)
                    .into_bytes(),
            );
            needles.push(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(value)
                    .into_bytes(),
            );
            needles.push(percent_encode(value).into_bytes());
        }
        // Longest first; equal lengths in byte order, so duplicates sit together for `dedup`.
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        needles.dedup();
        Self {
            needles,
            pending: Vec::new(),
        }
    }

    /// Takes the next chunk of output; returns what can be written now: everything but a tail
    /// that could be the start of a value (so a prompt without one is shown at once).
    pub fn push(&mut self, data: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(data);
        let hold = self
            .needles
            .iter()
            .map(|n| partial_suffix(&self.pending, n))
            .max()
            .unwrap_or(0);
        self.drain(self.pending.len() - hold)
    }

    /// The output is over: returns the rest.
    pub fn finish(&mut self) -> Vec<u8> {
        self.drain(self.pending.len())
    }

    /// Redacts and returns `pending[..limit]` (plus the whole of a match that starts before
    /// `limit`: a value that began there and is not complete would have been held back).
    fn drain(&mut self, limit: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(limit);
        let mut i = 0;
        while i < limit {
            match self.needles.iter().find(|n| self.pending[i..].starts_with(n)) {
                Some(needle) => {
                    out.extend_from_slice(MASK);
                    i += needle.len();
                }
                None => {
                    out.push(self.pending[i]);
                    i += 1;
                }
            }
        }
        self.pending.drain(..i);
        out
    }
}

/// The length of the longest proper prefix of `needle` that `pending` ends with.
fn partial_suffix(pending: &[u8], needle: &[u8]) -> usize {
    (1..needle.len().min(pending.len() + 1))
        .rev()
        .find(|&k| pending.ends_with(&needle[..k]))
        .unwrap_or(0)
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(r: &mut Redactor, chunks: &[&[u8]]) -> String {
        let mut out = Vec::new();
        for c in chunks {
            out.extend(r.push(c));
        }
        out.extend(r.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn values_and_their_encoded_forms_are_masked_even_across_writes() {
        let mut r = Redactor::new(["hunter2 pw", "abc"]);
        assert_eq!(run(&mut r, &[b"pw=hunter2 pw!"]), "pw=*****!");
        assert_eq!(run(&mut r, &[b"pw=hun", b"ter2", b" pw done"]), "pw=***** done");
        assert_eq!(
            run(&mut r, &[b"b64=aHVudGVyMiBwdw== url=hunter2%20pw"]),
            "b64=***** url=*****"
        );
        assert_eq!(run(&mut r, &[b"abc is short"]), "abc is short");
        assert_eq!(
            run(&mut r, &[b"hunter2 p"]),
            "hunter2 p",
            "a prefix alone is not masked"
        );
    }

    #[test]
    fn output_that_cannot_start_a_value_is_not_held_back() {
        let mut r = Redactor::new(["secret-value"]);
        assert_eq!(r.push(b"password: "), b"password: ");
        assert_eq!(
            r.push(b"ready sec"),
            b"ready ",
            "only the possible start of a value waits"
        );
        assert_eq!(r.push(b"ond"), b"second");
    }

    #[test]
    fn every_split_of_the_output_gives_the_same_result() {
        let text = b"a secret-value, then c2VjcmV0LXZhbHVl and secret%2Dvalue? no: secret-valu";
        let whole = run(&mut Redactor::new(["secret-value"]), &[text]);
        assert_eq!(whole, "a *****, then ***** and secret%2Dvalue? no: secret-valu");
        for cut in 0..text.len() {
            let mut r = Redactor::new(["secret-value"]);
            assert_eq!(run(&mut r, &[&text[..cut], &text[cut..]]), whole, "cut at {cut}");
        }
    }
}
