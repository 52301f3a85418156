//! One table of spellings, run against both uses: the whole buffer at once, and the stream cut
//! at every point (and fed byte by byte).

use super::*;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

const R: &str = "[R]";

fn whole(r: &Redactor, text: &[u8]) -> Vec<u8> {
    r.redact(text, R.as_bytes())
}

fn streamed(r: &Redactor, chunks: &[&[u8]]) -> Vec<u8> {
    let mut stream = r.stream(R.as_bytes());
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend(stream.push(chunk));
    }
    out.extend(stream.finish());
    out
}

/// Checks that both uses give `expected` for `text`, the stream whatever the cuts.
fn check(values: &[&str], text: &[u8], expected: &[u8]) {
    let r = Redactor::new(values.iter().copied());
    let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert_eq!(show(&whole(&r, text)), show(expected), "whole buffer: {}", show(text));
    for cut in 0..=text.len() {
        let out = streamed(&r, &[&text[..cut], &text[cut..]]);
        assert_eq!(show(&out), show(expected), "stream cut at {cut}: {}", show(text));
    }
    let bytes: Vec<&[u8]> = text.chunks(1).collect();
    assert_eq!(
        show(&streamed(&r, &bytes)),
        show(expected),
        "byte by byte: {}",
        show(text)
    );
}

fn b64(engine: &base64::engine::GeneralPurpose, text: &str) -> String {
    engine.encode(text)
}

/// `(value, how it was spelt)`: each spelling, between other text, becomes one replacement.
fn spellings_table() -> Vec<(&'static str, String)> {
    let quoted = "p@ss w/rd+&=X";
    let accented = "p\u{e4}ssw\u{f6}rd/\"x";
    let padded = "a secret?>>";
    vec![
        ("s3cr3t value/+&=", "s3cr3t value/+&=".into()),
        // percent-encoded: upper, lower, mixed case, and only in part (encodeURI keeps / + & =)
        ("s3cr3t value/+&=", "s3cr3t%20value%2F%2B%26%3D".into()),
        ("s3cr3t value/+&=", "s3cr3t%20value%2f%2b%26%3d".into()),
        ("s3cr3t value/+&=", "s3cr3t%20value%2f%2B%26%3d".into()),
        ("s3cr3t value/+&=", "s3cr3t%20value/+&=".into()),
        ("s3cr3t value/+&=", "%73%33cr3t value/+&=".into()),
        // form encoding: a space as `+`
        ("s3cr3t value/+&=", "s3cr3t+value%2F%2B%26%3D".into()),
        ("s3cr3t value/+&=", "s3cr3t+value%2F+%26=".into()),
        // Python: urllib.parse.quote() keeps `/`; quote_plus() encodes it and spaces become `+`
        (quoted, "p%40ss%20w/rd%2B%26%3DX".into()),
        (quoted, "p%40ss+w%2Frd%2B%26%3DX".into()),
        // JSON: short escapes, `\/`, `\u` in either case
        ("pa\"ss\\word", "pa\\\"ss\\\\word".into()),
        ("s3cr3t value/+&=", "s3cr3t value\\/+&=".into()),
        ("s3cr3t value/+&=", "s3cr3t\\u0020value\\/\\u002B\\u0026\\u003d".into()),
        (accented, "p\\u00E4ssw\\u00f6rd\\/\\\"x".into()),
        ("line one\nline\ttwo", "line one\\nline\\ttwo".into()),
        ("key \u{1f511} here", "key \\ud83d\\uDD11 here".into()),
        // UTF-8 percent-encoded
        (accented, "p%C3%A4ssw%c3%b6rd%2F%22x".into()),
        // HTML
        ("s3cr3t value/+&=", "s3cr3t value/+&amp;=".into()),
        ("<it's \"x\">", "&lt;it&#39;s &quot;x&quot;&GT;".into()),
        ("<it's \"x\">", "&lt;it&#x27;s &#34;x&#34;&gt;".into()),
        // base64, both alphabets, with and without padding
        (padded, b64(&STANDARD, padded)),
        (padded, b64(&STANDARD_NO_PAD, padded)),
        (padded, b64(&URL_SAFE, padded)),
        (padded, b64(&URL_SAFE_NO_PAD, padded)),
        ("hunter2 pw", b64(&STANDARD, "hunter2 pw")),
    ]
}

#[test]
fn every_spelling_is_replaced_whole_in_both_uses() {
    for (value, spelled) in spellings_table() {
        for (before, after) in [("", ""), ("<", ">"), ("a=", " b"), ("%", "%")] {
            let text = format!("{before}{spelled}{after}");
            let expected = format!("{before}{R}{after}");
            check(&[value], text.as_bytes(), expected.as_bytes());
        }
    }
}

#[test]
fn base64_of_user_and_value_inside_longer_base64_is_caught_at_every_alignment() {
    let value = "0123456789-long-password";
    let r = Redactor::new([value]);
    for prefix in ["", "u:", "user:", "abc", "admin:"] {
        for engine in [&STANDARD, &URL_SAFE_NO_PAD] {
            let encoded = engine.encode(format!("{prefix}{value}!"));
            let text = format!("Authorization: Basic {encoded}\n");
            let out = whole(&r, text.as_bytes());
            let shown = String::from_utf8_lossy(&out).into_owned();
            assert!(shown.contains(R), "{prefix}: {shown}");
            // At most the few characters shared with the neighbours are left of the encoding.
            let rest = shown.replace(R, "").len() - "Authorization: Basic \n".len();
            assert!(rest <= prefix.len() * 4 / 3 + 6, "{prefix}: {shown}");
            for cut in 0..=text.len() {
                let bytes = text.as_bytes();
                assert_eq!(
                    streamed(&r, &[&bytes[..cut], &bytes[cut..]]),
                    out,
                    "{prefix}, cut at {cut}"
                );
            }
        }
    }
}

#[test]
fn text_that_only_resembles_a_value_is_left_alone() {
    // A prefix alone, a value with a character missing, an escape that decodes to something else.
    check(&["hunter2 pw"], b"hunter2 p", b"hunter2 p");
    check(&["hunter2 pw"], b"hunter2pw", b"hunter2pw");
    check(&["hunter2 pw"], b"hunter2%21pw", b"hunter2%21pw");
    check(&["hunter2 pw"], b"hunter2 pw", R.as_bytes());
    check(&["secret-value"], b"secret%2Dvalu", b"secret%2Dvalu");
    // Bytes that are not UTF-8 pass through.
    check(&["secret-value"], b"\xff nothing \xfe%", b"\xff nothing \xfe%");
    // Nothing given, nothing redacted.
    check(&[], b"anything %41 at all", b"anything %41 at all");
}

#[test]
fn the_longest_match_wins_and_several_values_are_caught() {
    check(&["abcd", "abcdefgh"], b"xabcdefghx abcd", b"x[R]x [R]");
    check(
        &["first-secret", "second-secret"],
        b"first-secret,second%2Dsecret",
        b"[R],[R]",
    );
}

#[test]
fn the_stream_holds_back_only_what_could_begin_a_value() {
    let r = Redactor::new(["secret-value"]);
    let mut s = r.stream(b"*****");
    assert_eq!(s.push(b"password: "), b"password: ");
    assert_eq!(
        s.push(b"ready sec"),
        b"ready ",
        "only the possible start of a value waits"
    );
    assert_eq!(s.push(b"ond"), b"second");
    assert_eq!(s.push(b"a prompt %"), b"a prompt ", "a `%` may begin %73");
    assert_eq!(s.push(b"%"), b"%", "`%%` cannot begin one");
    assert_eq!(s.push(b"secret-val"), b"%", "`%s` begins nothing; the value may");
    assert_eq!(s.push(b"ue!"), b"*****!");
    assert_eq!(s.finish(), b"");
}

#[test]
fn long_inputs_full_of_escapes_stay_fast() {
    // A value full of characters with several spellings, against many escapes: the set of
    // positions keeps this linear in the value's length at each place.
    let r = Redactor::new(["%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%"]);
    let input = "%25".repeat(20_000);
    assert!(r.redact_text(&input, R).contains(R));
    let mut stream = r.stream(R.as_bytes());
    let mut out = Vec::new();
    for chunk in input.as_bytes().chunks(4096) {
        out.extend(stream.push(chunk));
    }
    out.extend(stream.finish());
    assert_eq!(out, whole(&r, input.as_bytes()));
}

#[test]
fn the_stream_agrees_with_the_whole_buffer_on_mixed_text_whatever_the_writes() {
    // Text made of values, their spellings, pieces of them and escapes, in a fixed pseudo-random
    // order; the stream, fed in writes of many sizes, must give what the whole buffer gives.
    let values = ["s3cr3t value/+&=", "p@ss w/rd+&=X", "hunter2 pw", "<it's \"x\">"];
    let mut pieces: Vec<String> = spellings_table().into_iter().map(|(_, s)| s).collect();
    pieces.extend(values.iter().map(|v| v[..v.len() / 2].to_owned()));
    pieces.extend(["%", "%2", "\\", "\\u00", "&", "&am", "+", " ", "=", "abc"].map(String::from));
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut text = Vec::new();
    while text.len() < 20_000 {
        text.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize].as_bytes());
    }
    let r = Redactor::new(values);
    let expected = whole(&r, &text);
    assert!(expected.windows(R.len()).any(|w| w == R.as_bytes()));
    for size in [1, 2, 3, 5, 7, 16, 100, 4096] {
        let chunks: Vec<&[u8]> = text.chunks(size).collect();
        assert!(streamed(&r, &chunks) == expected, "writes of {size} bytes");
    }
}
