//! Wall-clock helpers. Calendar dates are local to the villages: Asia/Shanghai, UTC+8 all year
//! (China has not observed daylight saving time since 1991), so a fixed offset is exact.

use time::{Date, Duration, OffsetDateTime, UtcOffset};

pub const CHINA: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let now = OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Today's date in the villages.
pub fn today() -> Date {
    OffsetDateTime::now_utc().to_offset(CHINA).date()
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
}
