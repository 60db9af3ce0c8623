//! `admin audit`: lets a county security officer ask "who read or changed this household's
//! personal data, and when" at the server's console, without an administrator login to the API.
//! It reads the same trail as `GET /v1/audit` ([`Store::audit`]: reads and decisions from
//! `audit_log`, writes from the mutation log) and prints field names only, never values, so
//! the output can go into a report or a ticket as it is.

use std::collections::HashMap;
use std::io::Write;

use anyhow::{Context, bail};
use time::Date;
use uuid::Uuid;

use super::local_time;
use crate::clock;
use crate::store::{AuditFilter, AuditRow, Store};

/// Entries fetched per query: a long trail is read in pages, not in one result set.
const PAGE: usize = 500;

/// What `admin audit` was asked for.
pub(super) struct Query {
    pub(super) household: Option<Uuid>,
    pub(super) username: Option<String>,
    /// First day, from 00:00 local time.
    pub(super) since: Option<Date>,
    /// Last day, to its end in local time.
    pub(super) until: Option<Date>,
    pub(super) limit: u32,
}

pub(super) async fn audit(store: &Store, q: &Query) -> anyhow::Result<()> {
    if let (Some(since), Some(until)) = (q.since, q.until)
        && until < since
    {
        bail!(
            "--until {} is before --since {}",
            clock::iso(until),
            clock::iso(since)
        );
    }
    let user_id = match &q.username {
        Some(name) => Some(
            store
                .user_by_username(name)
                .await?
                .with_context(|| format!("no user named {name:?}"))?
                .id,
        ),
        None => None,
    };
    // Every user once, rather than one query per entry.
    let names: HashMap<Uuid, String> = store
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect();
    let mut filter = AuditFilter {
        household_id: q.household,
        user_id,
        from_ms: q.since.map(day_start_ms),
        // The day after `until` starts where the range ends (exclusive).
        to_ms: q.until.and_then(Date::next_day).map(day_start_ms),
        after: None,
        limit: 0,
    };

    let wanted = usize::try_from(q.limit).unwrap_or(usize::MAX);
    let mut shown = 0;
    let left_out = loop {
        let remaining = wanted - shown;
        // One entry beyond the limit tells whether any were left out.
        let page = remaining.saturating_add(1).min(PAGE);
        filter.limit = i64::try_from(page).unwrap_or(i64::MAX);
        let rows = store.audit(&filter).await?;
        filter.after = rows.last().map(|r| (r.at, r.id));
        let mut out = std::io::stdout().lock();
        for row in rows.iter().take(remaining) {
            if shown == 0 {
                writeln!(
                    out,
                    "{:<19}  {:<16}  {:<7}  {:<9}  {:<36}  {:<36}  fields",
                    "time (UTC+8)", "user", "action", "entity", "record", "household"
                )?;
            }
            writeln!(out, "{}", line(row, &names))?;
            shown += 1;
        }
        out.flush()?;
        if rows.len() > remaining {
            break true;
        }
        if rows.len() < page {
            break false;
        }
    };
    if shown == 0 {
        println!("no audit entries match");
    } else if left_out {
        eprintln!(
            "note: only the first {shown} entries are shown; narrow the search (--since, --until) \
             or raise --limit"
        );
    }
    Ok(())
}

/// One entry as a line of whitespace-separated columns (field names are joined by commas).
fn line(row: &AuditRow, names: &HashMap<Uuid, String>) -> String {
    let user = names
        .get(&row.user_id)
        .cloned()
        .unwrap_or_else(|| row.user_id.to_string());
    let household = row
        .household_id
        .map_or_else(|| "-".to_owned(), |h| h.to_string());
    let fields = if row.fields.is_empty() {
        "-".to_owned()
    } else {
        row.fields.join(",")
    };
    format!(
        "{:<19}  {:<16}  {:<7}  {:<9}  {:<36}  {:<36}  {fields}",
        local_time(row.at),
        user,
        row.action,
        row.entity,
        row.record_id,
        household,
    )
}

/// 00:00 of `day` in Ningxia, in milliseconds since the epoch.
fn day_start_ms(day: Date) -> i64 {
    day.midnight().assume_offset(clock::CHINA).unix_timestamp() * 1000
}

/// Parses the --household argument.
pub(super) fn household_arg(text: &str) -> Result<Uuid, String> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        format!(
            "{text:?} is not a household id; household ids look like \
             0193a0f0-0000-7000-8000-000000000001"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_local_day_starts_at_16_00_utc_the_day_before() {
        // 2026-11-28 00:00 UTC+8 = 2026-11-27 16:00 UTC.
        assert_eq!(day_start_ms(date!(2026 - 11 - 28)), 1_795_795_200_000);
    }
}
