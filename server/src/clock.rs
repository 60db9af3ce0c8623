//! Wall-clock helpers. Calendar dates are local to the villages: Asia/Shanghai, UTC+8 all year
//! (China has not observed daylight saving time since 1991), so a fixed offset is exact.

use time::{Date, Duration, OffsetDateTime, UtcOffset};

pub const CHINA: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// The variable that runs a server as if it were later: end-to-end tests of procedures that
/// take days (a village publicity runs at least five) restart the binary "six days later".
/// Read once; the server warns at start when it is set.
pub const TEST_OFFSET_VAR: &str = "FIELDSYNC_TEST_CLOCK_OFFSET_S";

/// The test offset in milliseconds (0 unless [`TEST_OFFSET_VAR`] is set).
pub fn test_offset_ms() -> i64 {
    static OFFSET: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *OFFSET.get_or_init(|| {
        std::env::var(TEST_OFFSET_VAR)
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map_or(0, |s| s.saturating_mul(1000))
    })
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let now = OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000)
        .unwrap_or(i64::MAX)
        .saturating_add(test_offset_ms())
}

/// Today's date in the villages.
pub fn today() -> Date {
    date_of_ms(now_ms())
}

/// A stored date (`YYYY-MM-DD`).
pub fn parse_date(text: &str) -> Option<Date> {
    Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

/// `YYYY-MM-DD`, the form dates are stored in.
pub fn iso(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// The village date of an instant (ms since the epoch).
pub fn date_of_ms(ms: i64) -> Date {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).map_or_else(
        |_| OffsetDateTime::now_utc().to_offset(CHINA).date(),
        |t| t.to_offset(CHINA).date(),
    )
}

/// An instant as RFC 3339 in village time (`2026-11-28T18:30:00+08:00`), the form records
/// carry.
pub fn rfc3339_of_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .map(|t| t.to_offset(CHINA).replace_nanosecond(0).unwrap_or(t))
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A record's RFC 3339 time as ms since the epoch.
pub fn ms_of_rfc3339(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

pub fn yesterday_of(date: Date) -> Date {
    date.checked_sub(Duration::days(1)).unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn late_evening_utc_is_already_tomorrow_in_ningxia() {
        let t = datetime!(2026-11-28 17:30 UTC).to_offset(CHINA);
        assert_eq!(iso(t.date()), "2026-11-29");
        assert_eq!(iso(yesterday_of(t.date())), "2026-11-28");
    }

    #[test]
    fn instants_read_back_in_village_time() {
        let ms = 1_764_351_000_000; // 2025-11-28T17:30:00Z
        assert_eq!(rfc3339_of_ms(ms), "2025-11-29T01:30:00+08:00");
        assert_eq!(ms_of_rfc3339(&rfc3339_of_ms(ms)), Some(ms));
        assert_eq!(iso(date_of_ms(ms)), "2025-11-29");
    }
}
