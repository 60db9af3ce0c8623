//! `GET /v1/attendance?user_id=&month=YYYY-MM`: a cadre's monthly attendance sheet with the
//! evidence behind each day (see `crate::attendance`). Cadres see their own; team leaders
//! (township supervisors), county officers and administrators see those of cadres assigned to
//! villages they oversee.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use fieldsync_protocol::{ErrorCode, Role};
use serde::Deserialize;
use time::{Date, OffsetDateTime, Time};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{AppJson, AppQuery, AuthUser};
use super::sync::actor;
use crate::app::AppState;
use crate::attendance::{self, Absence, Event, Sheet, Span};
use crate::clock::{self, CHINA};
use crate::store::village_range;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/attendance", get(sheet))
}

#[derive(Deserialize)]
struct SheetQuery {
    user_id: Option<Uuid>,
    /// `YYYY-MM`; this month when absent.
    month: Option<String>,
}

/// How far a fix's time may lie after the server received it (phone clocks drift).
const CLOCK_SLACK_MS: i64 = 10 * 60 * 1000;

/// Roles that review other cadres' attendance.
const REVIEWERS: &[Role] = &[Role::TownshipSupervisor, Role::CountyOfficer, Role::Admin];

async fn sheet(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(q): AppQuery<SheetQuery>,
) -> Result<AppJson<Sheet>, ApiError> {
    let today = clock::today();
    let month = match q.month.as_deref() {
        Some(text) => attendance::parse_month(text).ok_or_else(|| {
            ApiError::bad_request(ErrorCode::InvalidRequest, "month is YYYY-MM").at("month")
        })?,
        None => (today.year(), today.month()),
    };
    let (first, last) = attendance::month_bounds(month.0, month.1).ok_or_else(|| {
        ApiError::bad_request(ErrorCode::InvalidRequest, "no such month").at("month")
    })?;
    let user_id = q.user_id.unwrap_or(auth.user_id);
    let store = state.store();
    let spans: Vec<Span> = store
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
        .collect();
    if user_id != auth.user_id {
        // Another cadre's sheet: only for a reviewer who oversees one of their villages; to
        // anyone else the cadre does not exist.
        let actor = actor(&state, &auth).await?;
        let oversees = REVIEWERS.contains(&auth.role)
            && spans.iter().any(|s| {
                let (lo, hi) = village_range(&s.division);
                actor.villages.range(lo..=hi).next().is_some()
            });
        if !oversees {
            return Err(ApiError::not_found("no such cadre"));
        }
    }
    let start = local_midnight_ms(first);
    let end = local_midnight_ms(last.next_day().unwrap_or(last));
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
            }
        })
        .collect();
    let absences = absences(&state, user_id).await?;
    attendance::sheet(user_id, month, &events, &absences, &spans, today)
        .map(AppJson)
        .ok_or_else(|| ApiError::bad_request(ErrorCode::InvalidRequest, "no such month"))
}

/// The cadre's declared absences in force (not superseded by a later request), each with the
/// team leader's latest answer.
async fn absences(state: &AppState, user_id: Uuid) -> Result<Vec<Absence>, ApiError> {
    let store = state.store();
    let requests = store.records_created_by(user_id, "leave_request").await?;
    let superseded: std::collections::HashSet<String> = requests
        .iter()
        .filter_map(|r| r.fields.0.get("supersedes")?.as_str().map(str::to_owned))
        .collect();
    let mut villages: Vec<&str> = requests.iter().map(|r| r.scope.as_str()).collect();
    villages.sort_unstable();
    villages.dedup();
    // Oldest first, so the last answer per request is the one in force.
    let mut answers = std::collections::HashMap::new();
    for village in villages {
        for d in store.records_in_village("leave_decision", village).await? {
            let request = d
                .fields
                .0
                .get("leave_request_id")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            let approved = d.fields.0.get("decision").and_then(|v| v.as_str()) == Some("approved");
            if let Some(request) = request {
                answers.insert(request, approved);
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

fn parse_date(text: &str) -> Option<Date> {
    Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

fn local_midnight_ms(day: Date) -> i64 {
    let t = day.with_time(Time::MIDNIGHT).assume_offset(CHINA);
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}
