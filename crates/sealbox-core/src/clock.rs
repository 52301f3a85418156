//! Time comes in through [`Clock`], so tests can pin it.

use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the system clock
    fn now_ms(&self) -> i64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A clock that stands still until moved; for tests.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start_ms: i64) -> Self {
        Self(AtomicI64::new(start_ms))
    }

    pub fn advance_ms(&self, delta: i64) {
        self.0.fetch_add(delta, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-22T10:00:00.000Z`.
pub fn format_ms(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => {
            let (y, mo, d) = (t.year(), u8::from(t.month()), t.day());
            format!(
                "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            )
        }
        Err(_) => String::from("invalid-time"),
    }
}

/// Parses an RFC 3339 time into milliseconds since the epoch.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// A span of time back from now such as `90s`, `30m`, `1h`, `7d` or `2w`, in milliseconds.
pub fn parse_ago_ms(s: &str) -> Option<i64> {
    let unit_at = s.len().checked_sub(1)?;
    let (number, unit) = s.split_at_checked(unit_at)?;
    let scale: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse::<i64>().ok()?.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_back_from_now() {
        assert_eq!(parse_ago_ms("90s"), Some(90_000));
        assert_eq!(parse_ago_ms("30m"), Some(1_800_000));
        assert_eq!(parse_ago_ms("1h"), Some(3_600_000));
        assert_eq!(parse_ago_ms("7d"), Some(604_800_000));
        assert_eq!(parse_ago_ms("2w"), Some(1_209_600_000));
        for bad in [
            "",
            "h",
            "1",
            "-1h",
            "+1h",
            "1.5h",
            "1y",
            "1hh",
            "99999999999999999999d",
            "é",
        ] {
            assert_eq!(parse_ago_ms(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formats_and_parses_round_trip() {
        let ms = 1_795_000_000_123;
        let s = format_ms(ms);
        assert!(s.ends_with(".123Z"), "{s}");
        assert_eq!(parse_rfc3339_ms(&s), Some(ms));
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }
}
