//! Wall-clock instants as unix milliseconds, and the ISO-8601 forms the audit trail uses.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ::time::format_description::well_known::Rfc3339;
use ::time::{OffsetDateTime, UtcOffset};

/// Unix milliseconds on the server's clock.
pub type Ms = i64;

/// The server's clock: the system's, plus an offset that only a test build moves (feature
/// `test-hooks`), so that tests drive time instead of waiting for it.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> Ms {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        real.saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock `offset_ms` away from the system's (test builds only).
    #[cfg(feature = "test-hooks")]
    pub fn set_offset(&self, offset_ms: i64) {
        self.offset_ms.store(offset_ms, Ordering::Relaxed);
    }
}

/// `2026-12-03T06:50:47.123Z`.
pub fn iso_ms(ms: Ms) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// An ISO-8601 (RFC 3339) instant in UTC (`Z` or `+00:00`) as unix milliseconds.
pub fn parse_iso_utc(s: &str) -> Option<Ms> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    if t.offset() != UtcOffset::UTC {
        return None;
    }
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip() {
        assert_eq!(iso_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_ms(1_796_146_197_011), "2026-12-01T17:29:57.011Z");
        assert_eq!(
            parse_iso_utc("2026-12-01T17:29:57.011Z"),
            Some(1_796_146_197_011)
        );
        assert_eq!(
            parse_iso_utc("2026-12-01T17:29:57Z"),
            Some(1_796_146_197_000)
        );
        assert_eq!(
            parse_iso_utc("2026-12-01T18:29:57.011+01:00"),
            None,
            "UTC only"
        );
        assert_eq!(parse_iso_utc("yesterday"), None);
        assert_eq!(parse_iso_utc("2026-13-01T00:00:00Z"), None);
    }
}
