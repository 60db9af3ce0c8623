//! Loading what a sheet is computed from (events, assignments, declared absences, the review
//! log) and computing it: one path for the HTTP API, the township export and the benchmark.

use crate::clock::parse_date;
use std::collections::{HashMap, HashSet};

use time::{Date, Month, OffsetDateTime, Time};
use uuid::Uuid;

use super::{Absence, Event, Sheet, Span};
use crate::clock::{self, CHINA};
use crate::store::{ReviewRow, Store, StoreError};

/// How far a fix's time may lie after the server received it (phone clocks drift).
const CLOCK_SLACK_MS: i64 = 10 * 60 * 1000;

/// The month as `[start, end)` in Unix milliseconds, from Beijing midnight to Beijing midnight.
pub fn month_ms(month: (i32, Month)) -> Option<(i64, i64)> {
    let (first, last) = super::month_bounds(month.0, month.1)?;
    Some((
        local_midnight_ms(first),
        local_midnight_ms(last.next_day()?),
    ))
}

/// The cadre's assignments that overlap the month.
pub async fn spans(
    store: &Store,
    user_id: Uuid,
    month: (i32, Month),
) -> Result<Vec<Span>, StoreError> {
    let Some((first, last)) = super::month_bounds(month.0, month.1) else {
        return Ok(Vec::new());
    };
    Ok(store
        .assignment_spans(user_id, &clock::iso(first), &clock::iso(last))
        .await?
        .into_iter()
        .filter_map(|a| {
            Some(Span {
                starts_on: parse_date(&a.starts_on)?,
                ends_on: match a.ends_on {
                    Some(d) => Some(parse_date(&d)?),
                    None => None,
                },
                division: a.division_code,
            })
        })
        .collect())
}

/// The cadre's sheet for the month as of today, with the events the team leader accepted.
pub async fn sheet(
    store: &Store,
    user_id: Uuid,
    month: (i32, Month),
    spans: &[Span],
    reviews: &[ReviewRow],
) -> Result<Option<Sheet>, StoreError> {
    let Some((start, end)) = month_ms(month) else {
        return Ok(None);
    };
    let accepted: HashSet<Uuid> = reviews
        .iter()
        .filter(|r| r.action == "accept_event")
        .filter_map(|r| r.event_id)
        .collect();
    let events: Vec<Event> = store
        .presence_events(user_id, start, end)
        .await?
        .into_iter()
        .map(|e| {
            let verdict = e.gps_verdict.map(|v| v.0).unwrap_or_default();
            let mut doubts: Vec<String> = verdict["reasons"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect();
            // A fix stamped after the server already had it: the phone's clock was set ahead
            // (to claim days not yet lived, say).
            let ahead = e.fix_at > e.received_at + CLOCK_SLACK_MS;
            if ahead {
                doubts.push("fix_after_sync".to_owned());
            }
            Event {
                record_id: e.record_id,
                entity: e.entity,
                village: e.scope,
                at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(e.fix_at) * 1_000_000)
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH),
                fix_ok: verdict["ok"].as_bool().unwrap_or(false) && !ahead,
                doubts,
                accepted: accepted.contains(&e.record_id),
            }
        })
        .collect();
    let absences = absences(store, user_id).await?;
    Ok(super::sheet(
        user_id,
        month,
        &events,
        &absences,
        spans,
        clock::today(),
    ))
}

/// The cadre's declared absences in force (not superseded by a later request), each with the
/// team leader's latest answer.
pub async fn absences(store: &Store, user_id: Uuid) -> Result<Vec<Absence>, StoreError> {
    let requests = store.records_created_by(user_id, "leave_request").await?;
    let superseded: HashSet<String> = requests
        .iter()
        .filter_map(|r| r.fields.0.get("supersedes")?.as_str().map(str::to_owned))
        .collect();
    let mut villages: Vec<&str> = requests.iter().map(|r| r.scope.as_str()).collect();
    villages.sort_unstable();
    villages.dedup();
    // Oldest first, so the last answer per request is the one in force.
    let mut answers = HashMap::new();
    for village in villages {
        for d in store.records_in_village("leave_decision", village).await? {
            let request = d.fields.0.get("leave_request_id").and_then(|v| v.as_str());
            let approved = d.fields.0.get("decision").and_then(|v| v.as_str()) == Some("approved");
            if let Some(request) = request {
                answers.insert(request.to_owned(), approved);
            }
        }
    }
    Ok(requests
        .iter()
        .filter(|r| !superseded.contains(&r.id.to_string()))
        .filter_map(|r| {
            let f = &r.fields.0;
            Some(Absence {
                request_id: r.id,
                kind: f.get("kind")?.as_str()?.to_owned(),
                first_day: parse_date(f.get("first_day")?.as_str()?)?,
                last_day: parse_date(f.get("last_day")?.as_str()?)?,
                approved: answers.get(&r.id.to_string()).copied(),
            })
        })
        .collect())
}

fn local_midnight_ms(day: Date) -> i64 {
    let t = day.with_time(Time::MIDNIGHT).assume_offset(CHINA);
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}
