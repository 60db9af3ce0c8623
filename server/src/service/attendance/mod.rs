//! Monthly attendance: a cadre's sheet with the evidence behind each day (see
//! `crate::attendance`), its review state and history, and once approved the approved figures
//! with any later amendments; the team leader's decisions (approve and lock, return with a
//! comment, accept a doubted event); the cadre's answer to a returned sheet; the township
//! table (`table.rs`) and a village's visit coverage (`coverage.rs`).
//!
//! Everyone sees their own sheet; township supervisors (team leaders), county officers and
//! administrators see and review those of the cadres with attendance duty (first secretaries,
//! work team members) assigned to villages they oversee, never a colleague's or a superior's.
//! To anyone else a sheet does not exist.

mod coverage;
mod table;

use std::collections::HashMap;

use fieldsync_protocol::{ErrorCode, Role};
use serde::Serialize;
use serde_json::Value;
use time::Month;
use uuid::Uuid;

use super::{Caller, ServiceError};
use crate::attendance::{self, Sheet, Span, load, review_state};
use crate::clock;
use crate::state::AppState;
use crate::store::{ReviewRow, village_range};

pub use coverage::{Coverage, CoveredHousehold, coverage};
pub use table::{TableFile, cadres_of, table_file};

/// Roles that review other cadres' attendance.
pub const REVIEWERS: &[Role] = &[Role::TownshipSupervisor, Role::CountyOfficer, Role::Admin];

/// A cadre's month: every day with its evidence, the counts, and where the review stands.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SheetView {
    #[serde(flatten)]
    pub sheet: Sheet,
    pub review: ReviewView,
    /// The sheet as the team leader approved it; later events and decisions do not change it,
    /// they show as `amendments`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub approved: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub amendments: Vec<Amendment>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReviewView {
    /// `open`, `returned`, `answered` or `approved`.
    pub state: &'static str,
    pub locked: bool,
    pub history: Vec<ReviewEntry>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReviewEntry {
    /// `approve`, `return`, `reply` or `accept_event`.
    pub action: String,
    pub by_user: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<Uuid>,
    pub at_ms: i64,
}

/// A day whose state changed after approval.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Amendment {
    pub date: String,
    pub approved: Value,
    pub now: Value,
}

/// A team leader's decision on a cadre's month.
pub struct Review {
    pub user_id: Uuid,
    /// `YYYY-MM`.
    pub month: String,
    /// `approve`, `return` (with a `comment`) or `accept_event` (with an `event_id`).
    pub action: String,
    pub comment: Option<String>,
    pub event_id: Option<Uuid>,
}

/// A cadre's sheet (the caller's own when `user_id` is absent) for `month` (this month when
/// absent), if the caller may see it.
pub async fn sheet_of(
    state: &AppState,
    caller: &Caller,
    user_id: Option<Uuid>,
    month: Option<&str>,
) -> Result<SheetView, ServiceError> {
    let month = month_of(month)?;
    let user_id = user_id.unwrap_or(caller.user_id);
    let spans = load::spans(state.store(), user_id, month).await?;
    if user_id != caller.user_id && !oversees(state, caller, user_id, &spans).await? {
        return Err(ServiceError::not_found("no such cadre"));
    }
    let reviews = state.store().reviews(user_id, &month_text(month)).await?;
    let sheet = computed(state, user_id, month, &spans, &reviews).await?;
    Ok(view(sheet, &reviews))
}

/// A team leader approves a sheet (and so locks it), returns it with a comment, or accepts a
/// doubted event so that its day counts; the sheet after the decision.
pub async fn decide(
    state: &AppState,
    caller: &Caller,
    req: Review,
) -> Result<SheetView, ServiceError> {
    let month = month_of(Some(&req.month))?;
    let spans = load::spans(state.store(), req.user_id, month).await?;
    if !REVIEWERS.contains(&caller.role) || req.user_id == caller.user_id {
        return Err(ServiceError::forbidden(
            ErrorCode::ForbiddenRole,
            "only a team leader reviews attendance, and not their own",
        ));
    }
    if !oversees(state, caller, req.user_id, &spans).await? {
        return Err(ServiceError::not_found("no such cadre"));
    }
    let store = state.store();
    let reviews = store.reviews(req.user_id, &req.month).await?;
    let locked = review_state(&reviews) == "approved";
    let comment = req
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let needs_comment =
        || ServiceError::invalid(ErrorCode::MissingField, "say why, in a comment").at("comment");
    let mut snapshot = None;
    match req.action.as_str() {
        "approve" | "return" if locked => {
            return Err(ServiceError::conflict(
                "the sheet is approved and locked; later changes show as amendments",
            ));
        }
        "approve" => {
            let sheet = computed(state, req.user_id, month, &spans, &reviews).await?;
            snapshot = Some(serde_json::to_string(&sheet).map_err(ServiceError::internal)?);
        }
        "return" if comment.is_none() => return Err(needs_comment()),
        "return" => {}
        "accept_event" => {
            if comment.is_none() {
                return Err(needs_comment());
            }
            let Some(event) = req.event_id else {
                return Err(
                    ServiceError::invalid(ErrorCode::MissingField, "which event").at("event_id"),
                );
            };
            let (start, end) = load::month_ms(month).ok_or_else(no_such_month)?;
            let events = store.presence_events(req.user_id, start, end).await?;
            if !events.iter().any(|e| e.record_id == event) {
                return Err(ServiceError::invalid(
                    ErrorCode::UnknownReference,
                    "not an event of this cadre in this month",
                )
                .at("event_id"));
            }
        }
        _ => {
            return Err(ServiceError::invalid(
                ErrorCode::InvalidValue,
                "action is approve, return or accept_event",
            )
            .at("action"));
        }
    }
    store
        .add_review(&ReviewRow {
            id: Uuid::now_v7(),
            user_id: req.user_id,
            month: req.month.clone(),
            action: req.action.clone(),
            by_user: caller.user_id,
            comment: comment.map(str::to_owned),
            event_id: req.event_id.filter(|_| req.action == "accept_event"),
            snapshot,
            at: clock::now_ms(),
        })
        .await?;
    let reviews = store.reviews(req.user_id, &req.month).await?;
    let sheet = computed(state, req.user_id, month, &spans, &reviews).await?;
    Ok(view(sheet, &reviews))
}

/// The cadre answers their returned sheet of `month` (with the leave request or the
/// explanation asked for).
pub async fn reply(
    state: &AppState,
    caller: &Caller,
    month_asked: &str,
    comment: &str,
) -> Result<SheetView, ServiceError> {
    let month = month_of(Some(month_asked))?;
    let store = state.store();
    let reviews = store.reviews(caller.user_id, month_asked).await?;
    if review_state(&reviews) != "returned" {
        return Err(ServiceError::conflict("only a returned sheet is answered"));
    }
    let comment = comment.trim();
    if comment.is_empty() || comment.chars().count() > 1000 {
        return Err(ServiceError::invalid(
            ErrorCode::InvalidValue,
            "a comment of 1 to 1000 characters",
        )
        .at("comment"));
    }
    store
        .add_review(&ReviewRow {
            id: Uuid::now_v7(),
            user_id: caller.user_id,
            month: month_asked.to_owned(),
            action: "reply".to_owned(),
            by_user: caller.user_id,
            comment: Some(comment.to_owned()),
            event_id: None,
            snapshot: None,
            at: clock::now_ms(),
        })
        .await?;
    let spans = load::spans(store, caller.user_id, month).await?;
    let reviews = store.reviews(caller.user_id, month_asked).await?;
    let sheet = computed(state, caller.user_id, month, &spans, &reviews).await?;
    Ok(view(sheet, &reviews))
}

/// The month a request names (`YYYY-MM`), this month when it names none.
pub fn month_of(text: Option<&str>) -> Result<(i32, Month), ServiceError> {
    let today = clock::today();
    match text {
        Some(text) => attendance::parse_month(text).ok_or_else(|| {
            ServiceError::invalid(ErrorCode::InvalidRequest, "month is YYYY-MM").at("month")
        }),
        None => Ok((today.year(), today.month())),
    }
}

pub fn month_text((year, month): (i32, Month)) -> String {
    format!("{year:04}-{:02}", u8::from(month))
}

/// Whether the caller reviews this user's sheet: a reviewing role, a user with attendance duty
/// (a first secretary or work team member: a county officer's or another supervisor's sheet is
/// nobody's to review), and one of the user's villages among the caller's own.
async fn oversees(
    state: &AppState,
    caller: &Caller,
    user_id: Uuid,
    spans: &[Span],
) -> Result<bool, ServiceError> {
    if !REVIEWERS.contains(&caller.role) {
        return Ok(false);
    }
    let Some(user) = state.store().user_by_id(user_id).await? else {
        return Ok(false);
    };
    if !attendance::CADRE_ROLES.contains(&user.role()?) {
        return Ok(false);
    }
    let actor = caller.actor(state).await?;
    Ok(spans.iter().any(|s| {
        let (lo, hi) = village_range(&s.division);
        actor.villages.range(lo..=hi).next().is_some()
    }))
}

fn no_such_month() -> ServiceError {
    ServiceError::invalid(ErrorCode::InvalidRequest, "no such month").at("month")
}

async fn computed(
    state: &AppState,
    user_id: Uuid,
    month: (i32, Month),
    spans: &[Span],
    reviews: &[ReviewRow],
) -> Result<Sheet, ServiceError> {
    load::sheet(state.store(), user_id, month, spans, reviews)
        .await?
        .ok_or_else(no_such_month)
}

fn view(sheet: Sheet, reviews: &[ReviewRow]) -> SheetView {
    let state = review_state(reviews);
    let approved: Option<Value> = reviews
        .iter()
        .rev()
        .find(|r| r.action == "approve")
        .and_then(|r| serde_json::from_str(r.snapshot.as_deref()?).ok());
    let mut amendments = Vec::new();
    if let (Some(snapshot), Ok(Value::Array(now))) = (&approved, serde_json::to_value(&sheet.days))
    {
        let then: HashMap<&str, &Value> = snapshot["days"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| Some((d["date"].as_str()?, &d["state"])))
            .collect();
        for day in &now {
            let (Some(date), state_now) = (day["date"].as_str(), &day["state"]) else {
                continue;
            };
            if let Some(state_then) = then.get(date)
                && *state_then != state_now
            {
                amendments.push(Amendment {
                    date: date.to_owned(),
                    approved: (*state_then).clone(),
                    now: state_now.clone(),
                });
            }
        }
    }
    SheetView {
        sheet,
        review: ReviewView {
            state,
            locked: state == "approved",
            history: reviews
                .iter()
                .map(|r| ReviewEntry {
                    action: r.action.clone(),
                    by_user: r.by_user,
                    comment: r.comment.clone(),
                    event_id: r.event_id,
                    at_ms: r.at,
                })
                .collect(),
        },
        approved,
        amendments,
    }
}
