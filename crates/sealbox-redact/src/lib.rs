//! The one redaction engine: finds secret values in text however they were spelt and replaces
//! them. Core uses it on what an action's destination answered ([`Redactor::redact`], the whole
//! reply at once); `sealbox run` on a program's output ([`Stream`], write by write). Both go
//! through the same matcher, so they catch the same spellings:
//!
//! - raw;
//! - percent-encoded, byte by byte, in either case, wholly or in part (so `encodeURIComponent`,
//!   `encodeURI` and Python's `quote()`, which keeps `/`, all match), with `+` for a space (form
//!   encoding and Python's `quote_plus()`);
//! - JSON-escaped: `\"`, `\\`, `\/`, `\n` ... and `\u00e9` (either case, surrogate pairs too);
//! - HTML-escaped: `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&#34;`, `&#39;`, `&#x27;`, `&apos;`;
//! - base64, standard or URL-safe alphabet, padded or not, and inside a longer base64 text at any
//!   of the three alignments (`user:value` in echoed Basic credentials), less the few characters
//!   it shares with its neighbours.
//!
//! Each character of a value may take any of its spellings independently. Where two matches
//! start at one place the longest wins. Which values to give (a minimum length, structured
//! fields) is the caller's decision: every non-empty value given is redacted.
//!
//! Pure: no IO, no async, no other sealbox crate.

use base64::Engine as _;
use std::collections::BTreeSet;

/// Base64 text shorter than this inside a longer base64 text is not looked for (it would match by chance).
const MIN_BASE64_CORE: usize = 8;

/// The bytes that begin an escaped spelling of some character.
fn is_escape(b: u8) -> bool {
    matches!(b, b'%' | b'+' | b'\\' | b'&')
}

/// The matcher, built once from the values.
#[derive(Clone)]
pub struct Redactor {
    /// Each value as characters, matched spelling by spelling; longest first.
    values: Vec<Vec<char>>,
    /// Base64 forms, matched exactly, by their first byte.
    needles: Vec<Vec<Vec<u8>>>,
    /// For each byte, the values whose raw spelling starts with it (indexes into `values`).
    raw_starts: Vec<Vec<usize>>,
    /// The bytes a match may start with (every other position is passed over at once).
    starts: [bool; 256],
}

/// What the matcher found at one position of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// The longest match starting here is this many bytes (0: none), whatever follows.
    Decided(usize),
    /// The input ended while a spelling starting here was still matching: more input decides.
    Open,
}

impl Redactor {
    /// A matcher for `values` (empty ones are skipped).
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
        let mut chars = BTreeSet::new();
        let mut needles = BTreeSet::new();
        for value in values {
            if value.is_empty() {
                continue;
            }
            chars.insert(value.chars().collect::<Vec<char>>());
            let bytes = value.as_bytes();
            for padded in [&STANDARD, &URL_SAFE] {
                needles.insert(padded.encode(bytes).into_bytes());
            }
            for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
                needles.insert(engine.encode(bytes).into_bytes());
                // Inside a longer text: with k bytes before it, the characters that hold only the
                // value's bits are the same whatever those bytes are.
                for k in 0..3usize {
                    let mut shifted = vec![0u8; k];
                    shifted.extend_from_slice(bytes);
                    let encoded = engine.encode(&shifted).into_bytes();
                    let first = (8 * k).div_ceil(6);
                    let last = (8 * (k + bytes.len())) / 6;
                    if last >= first + MIN_BASE64_CORE {
                        needles.insert(encoded[first..last].to_vec());
                    }
                }
            }
        }
        let mut values: Vec<Vec<char>> = chars.into_iter().collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        let mut by_first: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 256];
        let mut starts = [false; 256];
        for needle in needles {
            if let Some(&b) = needle.first() {
                starts[usize::from(b)] = true;
                by_first[usize::from(b)].push(needle);
            }
        }
        if !values.is_empty() {
            // Escaped spellings of any first character.
            for b in [b'%', b'+', b'\\', b'&'] {
                starts[usize::from(b)] = true;
            }
        }
        let mut raw_starts: Vec<Vec<usize>> = vec![Vec::new(); 256];
        for (index, value) in values.iter().enumerate() {
            if let Some(c) = value.first() {
                let b = usize::from(first_byte(*c));
                starts[b] = true;
                raw_starts[b].push(index);
            }
        }
        Self {
            values,
            needles: by_first,
            raw_starts,
            starts,
        }
    }

    /// True when there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `input` with every match replaced by `replacement` (core: `[REDACTED]`).
    pub fn redact(&self, input: &[u8], replacement: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
        let used = self.scan(input, replacement, true, &mut out);
        debug_assert_eq!(used, input.len());
        out
    }

    /// [`Redactor::redact`] for text; the result is text again (a match replaces whole characters).
    pub fn redact_text(&self, input: &str, replacement: &str) -> String {
        String::from_utf8_lossy(&self.redact(input.as_bytes(), replacement.as_bytes())).into_owned()
    }

    /// A streaming redactor over (a copy of) this matcher (`sealbox run`: `*****`).
    pub fn stream(&self, replacement: &[u8]) -> Stream {
        Stream {
            redactor: self.clone(),
            replacement: replacement.to_vec(),
            pending: Vec::new(),
        }
    }

    /// Redacts `input` into `out` up to the first position whose match more input could change
    /// (all of it when `at_end`); returns how many input bytes were consumed.
    fn scan(&self, input: &[u8], replacement: &[u8], at_end: bool, out: &mut Vec<u8>) -> usize {
        let mut i = 0;
        while i < input.len() {
            if !self.starts[usize::from(input[i])] {
                out.push(input[i]);
                i += 1;
                continue;
            }
            match self.longest_match(&input[i..], at_end) {
                Found::Open => break,
                Found::Decided(0) => {
                    out.push(input[i]);
                    i += 1;
                }
                Found::Decided(len) => {
                    out.extend_from_slice(replacement);
                    i += len;
                }
            }
        }
        i
    }

    /// The longest match at the start of `input`. Unless `at_end`, a spelling still matching
    /// when the input runs out makes the answer [`Found::Open`].
    fn longest_match(&self, input: &[u8], at_end: bool) -> Found {
        let mut best = 0;
        let mut open = false;
        let Some(&first) = input.first() else {
            return Found::Decided(0);
        };
        for needle in &self.needles[usize::from(first)] {
            if input.starts_with(needle) {
                best = best.max(needle.len());
            } else if input.len() < needle.len() && needle.starts_with(input) {
                open = true;
            }
        }
        let mut try_value = |value: &[char]| {
            let (len, value_open) = match_value(value, input);
            best = best.max(len.unwrap_or(0));
            open |= value_open;
        };
        if is_escape(first) {
            self.values.iter().for_each(|value| try_value(value));
        } else {
            self.raw_starts[usize::from(first)]
                .iter()
                .for_each(|&index| try_value(&self.values[index]));
        }
        if open && !at_end {
            Found::Open
        } else {
            Found::Decided(best)
        }
    }
}

/// Redacts output as it is written: a value split across writes is still caught, because the
/// bytes that could begin one are held back until the next write (or the end) decides; output
/// that cannot begin a value is passed on at once.
pub struct Stream {
    redactor: Redactor,
    replacement: Vec<u8>,
    /// Output not passed on yet: from the first position whose match is undecided.
    pending: Vec<u8>,
}

impl Stream {
    /// Takes the next chunk of output; returns what can be written now.
    pub fn push(&mut self, data: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(data);
        self.drain(false)
    }

    /// The output is over: returns the rest.
    pub fn finish(&mut self) -> Vec<u8> {
        self.drain(true)
    }

    fn drain(&mut self, at_end: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.pending.len());
        let used = self.redactor.scan(&self.pending, &self.replacement, at_end, &mut out);
        self.pending.drain(..used);
        out
    }
}

fn first_byte(c: char) -> u8 {
    let mut buf = [0u8; 4];
    c.encode_utf8(&mut buf).as_bytes()[0]
}

/// Matches `value` at the start of `input` in any mix of spellings, as a set of positions reached
/// after each character (so a character with several spellings costs no backtracking). Returns
/// the longest full match, and whether some spelling was still matching where the input ended.
fn match_value(value: &[char], input: &[u8]) -> (Option<usize>, bool) {
    // Fast path: compared byte by byte as written, the input can only take another spelling
    // where it (or the value) has an escape's first byte.
    let mut buf = [0u8; 4];
    let mut at = 0;
    let mut plain = true;
    'raw: for c in value {
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            match input.get(at) {
                Some(&i) if i == b && !is_escape(b) => at += 1,
                Some(&i) if is_escape(i) || is_escape(b) => {
                    plain = false;
                    break 'raw;
                }
                Some(_) => return (None, false),
                None => return (None, true),
            }
        }
    }
    if plain {
        return (Some(at), false);
    }
    let mut open = false;
    let mut positions = vec![0usize];
    let mut next = Vec::new();
    for &c in value {
        next.clear();
        for &at in &positions {
            if at == input.len() {
                open = true;
                continue;
            }
            spellings(c, &input[at..], |step| match step {
                Step::Whole(len) => {
                    if !next.contains(&(at + len)) {
                        next.push(at + len);
                    }
                }
                Step::Cut => open = true,
            });
        }
        if next.is_empty() {
            return (None, open);
        }
        std::mem::swap(&mut positions, &mut next);
    }
    (positions.into_iter().max(), open)
}

/// One spelling of a character compared with the input.
enum Step {
    /// The input starts with the whole spelling, this many bytes.
    Whole(usize),
    /// The input is a proper prefix of the spelling.
    Cut,
}

/// Compares `spelling` with the start of `input`, bytes from `fold_from` on in either case.
fn compare(spelling: &[u8], input: &[u8], fold_from: usize) -> Option<Step> {
    let n = spelling.len().min(input.len());
    let same = spelling[..n].iter().zip(&input[..n]).enumerate().all(|(i, (s, b))| {
        if i >= fold_from {
            s.eq_ignore_ascii_case(b)
        } else {
            s == b
        }
    });
    match (same, n == spelling.len()) {
        (false, _) => None,
        (true, true) => Some(Step::Whole(n)),
        (true, false) => Some(Step::Cut),
    }
}

/// Calls `found` with each spelling of `c` that `input` starts with (or is cut short in).
fn spellings(c: char, input: &[u8], mut found: impl FnMut(Step)) {
    let mut buf = [0u8; 4];
    let utf8 = c.encode_utf8(&mut buf).as_bytes();
    // Raw or percent-encoded, byte by byte (any byte may be encoded, in either case).
    fn raw_or_percent(utf8: &[u8], input: &[u8], at: usize, found: &mut impl FnMut(Step)) {
        let Some((&b, rest)) = utf8.split_first() else {
            found(Step::Whole(at));
            return;
        };
        let Some(&next) = input.get(at) else {
            return found(Step::Cut);
        };
        if next == b {
            raw_or_percent(rest, input, at + 1, found);
        }
        if next == b'%' {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            let percent = [b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]];
            match compare(&percent, &input[at..], 1) {
                Some(Step::Whole(len)) => raw_or_percent(rest, input, at + len, found),
                Some(Step::Cut) => found(Step::Cut),
                None => {}
            }
        }
    }
    raw_or_percent(utf8, input, 0, &mut found);
    let mut report = |step: Option<Step>| {
        if let Some(step) = step {
            found(step);
        }
    };
    // A space as `+` (forms, query strings, `quote_plus`).
    if c == ' ' {
        report(compare(b"+", input, 1));
    }
    if input.first() == Some(&b'\\') {
        let short = match c {
            '"' => Some(b'"'),
            '\\' => Some(b'\\'),
            '/' => Some(b'/'),
            '\n' => Some(b'n'),
            '\r' => Some(b'r'),
            '\t' => Some(b't'),
            '\u{8}' => Some(b'b'),
            '\u{c}' => Some(b'f'),
            _ => None,
        };
        if let Some(short) = short {
            report(compare(&[b'\\', short], input, 2));
        }
        // `\u` and four hex digits in either case, twice for a surrogate pair.
        let mut units = [0u16; 2];
        let mut at = 0;
        let mut step = None;
        for unit in c.encode_utf16(&mut units).iter() {
            let escaped = format!("\\u{unit:04x}");
            step = compare(escaped.as_bytes(), &input[at..], 2);
            match step {
                Some(Step::Whole(len)) => at += len,
                _ => break,
            }
        }
        report(match step {
            Some(Step::Whole(_)) => Some(Step::Whole(at)),
            other => other,
        });
    }
    if input.first() == Some(&b'&') {
        let entities: &[&[u8]] = match c {
            '&' => &[b"&amp;"],
            '<' => &[b"&lt;"],
            '>' => &[b"&gt;"],
            '"' => &[b"&quot;", b"&#34;"],
            '\'' => &[b"&#39;", b"&#x27;", b"&apos;"],
            _ => &[],
        };
        for entity in entities {
            report(compare(entity, input, 0));
        }
    }
}

#[cfg(test)]
mod tests;
