//! Loading what a sheet is computed from (events, assignments, declared absences, the review
//! log) and computing it: one cadre at a time for the HTTP API ([`sheet`]), many at once for
//! the township table and the console ([`sheets`]), both through the same conversions.

use crate::clock::parse_date;
use std::collections::{HashMap, HashSet};

use time::{Date, Month, OffsetDateTime, Time};
use uuid::Uuid;

use super::{Absence, Event, Sheet, Span};
use crate::clock::{self, CHINA};
use crate::store::{
    AssignmentSpan, CadreRow, PlainRecord, PresenceEvent, ReviewRow, Store, StoreError,
};

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
        .filter_map(span)
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
    let events = store.presence_events(user_id, start, end).await?;
    let absences = absences(store, user_id).await?;
    Ok(sheet_of(
        user_id,
        month,
        events,
        &absences,
        spans,
        reviews,
        clock::today(),
    ))
}

/// The cadre's declared absences in force (not superseded by a later request), each with the
/// team leader's latest answer.
pub async fn absences(store: &Store, user_id: Uuid) -> Result<Vec<Absence>, StoreError> {
    let requests = store.records_created_by(user_id, "leave_request").await?;
    let mut decisions = HashMap::new();
    for village in villages_of(&requests) {
        let answers = store.records_in_village("leave_decision", village).await?;
        decisions.insert(village.to_owned(), answers);
    }
    Ok(absences_from(&requests, &decisions))
}

/// A cadre's sheet of a month and the review log it stands under.
#[derive(Clone, Debug)]
pub struct CadreSheet {
    pub sheet: Sheet,
    /// The month's review log, oldest first.
    pub reviews: Vec<ReviewRow>,
}

impl CadreSheet {
    /// `open`, `approved`, `returned` or `answered`.
    pub fn review_state(&self) -> &'static str {
        super::review_state(&self.reviews)
    }
}

/// The sheets of `month` of the cadres in `cadres` (rows of `Store::cadres_under` for that
/// month), by user id: what [`spans`], `Store::reviews` and [`sheet`] give one cadre at a time,
/// from five queries for all of them (about six per cadre the other way, each a round trip).
///
/// The queries take every cadre below the smallest division holding the rows' villages; a
/// row that selection misses (not listed by `cadres_under` for this month) is read alone, so
/// the result never depends on where the rows came from.
pub async fn sheets(
    store: &Store,
    cadres: &[CadreRow],
    month: (i32, Month),
) -> Result<HashMap<Uuid, CadreSheet>, StoreError> {
    let (Some((first, last)), Some((start, end))) =
        (super::month_bounds(month.0, month.1), month_ms(month))
    else {
        return Ok(HashMap::new());
    };
    if cadres.is_empty() {
        return Ok(HashMap::new());
    }
    let (from, to) = (clock::iso(first), clock::iso(last));
    let month_text = format!("{:04}-{:02}", month.0, u8::from(month.1));
    let division = covering_division(cadres.iter().map(|c| c.division_code.as_str()));

    // Every cadre of the selection has an assignment overlapping the month (the one it was
    // selected by), so the spans also tell which cadres the other reads cover.
    let mut selected = HashSet::new();
    let mut spans: HashMap<Uuid, Vec<Span>> = HashMap::new();
    for a in store.assignment_spans_under(&division, &from, &to).await? {
        selected.insert(a.user_id);
        let user = a.user_id;
        if let Some(s) = span(a) {
            spans.entry(user).or_default().push(s);
        }
    }
    let mut reviews = group(
        store
            .reviews_under(&division, &from, &to, &month_text)
            .await?,
        |r| r.user_id,
    );
    let mut events = group(
        store
            .presence_events_under(&division, &from, &to, start, end)
            .await?,
        |e| e.user_id,
    );
    // In fix-time order, as the one-cadre read gives them (ids break ties on both engines).
    for list in events.values_mut() {
        list.sort_by_key(|e| (e.fix_at, e.record_id));
    }
    let mut requests = group(
        store
            .records_created_under(&division, &from, &to, "leave_request")
            .await?,
        |r| r.created_by,
    );
    let decisions = group(
        store
            .records_in_villages_under(&division, &from, &to, "leave_decision", "leave_request")
            .await?,
        |d| d.scope.clone(),
    );

    let today = clock::today();
    let mut out = HashMap::new();
    for cadre in cadres {
        let user = cadre.user_id;
        if out.contains_key(&user) {
            // A cadre of two villages has a row for each, and one sheet.
            continue;
        }
        let found = if selected.contains(&user) {
            let reviews = reviews.remove(&user).unwrap_or_default();
            let absences = absences_from(&requests.remove(&user).unwrap_or_default(), &decisions);
            let spans = spans.get(&user).map_or(&[][..], Vec::as_slice);
            let events = events.remove(&user).unwrap_or_default();
            sheet_of(user, month, events, &absences, spans, &reviews, today)
                .map(|sheet| CadreSheet { sheet, reviews })
        } else {
            let spans = self::spans(store, user, month).await?;
            let reviews = store.reviews(user, &month_text).await?;
            sheet(store, user, month, &spans, &reviews)
                .await?
                .map(|sheet| CadreSheet { sheet, reviews })
        };
        if let Some(found) = found {
            out.insert(user, found);
        }
    }
    Ok(out)
}

/// Rows by `key`, each group in the order the rows came in (the queries' order within a
/// cadre or village is what the per-cadre reads give).
fn group<K: std::hash::Hash + Eq, T>(rows: Vec<T>, key: impl Fn(&T) -> K) -> HashMap<K, Vec<T>> {
    let mut out: HashMap<K, Vec<T>> = HashMap::new();
    for row in rows {
        out.entry(key(&row)).or_default().push(row);
    }
    out
}

/// The smallest division (by code prefix: village 12, township 9, county 6, city 4, province 2
/// digits) whose villages include every code of `codes`; `""`, all villages, when they share
/// no province.
fn covering_division<'a>(mut codes: impl Iterator<Item = &'a str>) -> String {
    let Some(first) = codes.next() else {
        return String::new();
    };
    let common = codes.fold(first.len(), |n, c| {
        first
            .bytes()
            .zip(c.bytes())
            .take(n)
            .take_while(|(a, b)| a == b)
            .count()
    });
    // Codes are ASCII digits; anything else (not a row of `cadres_under`) selects all villages
    // and is then read alone.
    let prefix = |n: usize| {
        first
            .get(..n)
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
    };
    // Cities and provinces are written padded with zeros (`640100`, `640000`), as
    // `village_range` reads them.
    let code = match common.min(12) {
        12 => prefix(12).map(str::to_owned),
        9..=11 => prefix(9).map(str::to_owned),
        6..=8 => prefix(6).map(str::to_owned),
        4 | 5 => prefix(4).map(|p| format!("{p}00")),
        2 | 3 => prefix(2).map(|p| format!("{p}0000")),
        _ => None,
    };
    code.unwrap_or_default()
}

fn span(a: AssignmentSpan) -> Option<Span> {
    Some(Span {
        starts_on: parse_date(&a.starts_on)?,
        ends_on: match a.ends_on {
            Some(d) => Some(parse_date(&d)?),
            None => None,
        },
        division: a.division_code,
    })
}

/// The sheet from the cadre's loaded events (in fix-time order) and review log.
fn sheet_of(
    user_id: Uuid,
    month: (i32, Month),
    events: Vec<PresenceEvent>,
    absences: &[Absence],
    spans: &[Span],
    reviews: &[ReviewRow],
    today: Date,
) -> Option<Sheet> {
    let accepted: HashSet<Uuid> = reviews
        .iter()
        .filter(|r| r.action == "accept_event")
        .filter_map(|r| r.event_id)
        .collect();
    let events: Vec<Event> = events
        .into_iter()
        .map(|e| {
            let accepted = accepted.contains(&e.record_id);
            event(e, accepted)
        })
        .collect();
    super::sheet(user_id, month, &events, absences, spans, today)
}

/// An event as the sheet judges it, from the stored fix and its verdict.
fn event(e: PresenceEvent, accepted: bool) -> Event {
    let verdict = e.gps_verdict.map(|v| v.0).unwrap_or_default();
    let mut doubts = verdict.reasons;
    // A fix stamped after the server already had it: the phone's clock was set ahead (to claim
    // days not yet lived, say).
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
        fix_ok: verdict.ok && !ahead,
        doubts,
        accepted,
    }
}

/// The villages of a cadre's leave requests, sorted, once each.
fn villages_of(requests: &[PlainRecord]) -> Vec<&str> {
    let mut villages: Vec<&str> = requests.iter().map(|r| r.scope.as_str()).collect();
    villages.sort_unstable();
    villages.dedup();
    villages
}

/// The absences declared by one cadre's `requests` (oldest first) in force, answered by the
/// leave decisions of their villages (`decisions`, by village, each oldest first; villages of
/// other cadres are not looked at).
fn absences_from(
    requests: &[PlainRecord],
    decisions: &HashMap<String, Vec<PlainRecord>>,
) -> Vec<Absence> {
    let superseded: HashSet<String> = requests
        .iter()
        .filter_map(|r| r.fields.0.get("supersedes")?.as_str().map(str::to_owned))
        .collect();
    // Village by village in code order, oldest first, so the last answer per request is the
    // one in force.
    let mut answers = HashMap::new();
    for village in villages_of(requests) {
        for d in decisions.get(village).into_iter().flatten() {
            let request = d.fields.0.get("leave_request_id").and_then(|v| v.as_str());
            let approved = d.fields.0.get("decision").and_then(|v| v.as_str()) == Some("approved");
            if let Some(request) = request {
                answers.insert(request.to_owned(), approved);
            }
        }
    }
    requests
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
        .collect()
}

fn local_midnight_ms(day: Date) -> i64 {
    let t = day.with_time(Time::MIDNIGHT).assume_offset(CHINA);
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}
