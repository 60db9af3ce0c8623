//! A person's assignments one at a time, from their page: every period they worked or will
//! work in a division, a new one added (from today or a later day, until a day or open-ended,
//! never overlapping another of theirs in the same division), and one ended on a day.
//!
//! The same rules as the other account changes: the caller manages the person (`managed`),
//! and the division is within the caller's reach. Past days are not rewritten: attendance and
//! tasks were judged by who was assigned then. The whole-set changes are elsewhere: a handover
//! (`hand_over`), the roster's import, `admin assign`.

use fieldsync_protocol::ErrorCode;
use time::Date;
use uuid::Uuid;

use super::{Caller, ServiceError, audit, managed, manages};
use crate::clock;
use crate::state::AppState;
use crate::store::{AssignmentSpan, AuditAction, Ending, OPEN_END, UserRow};

fn invalid(message: impl Into<String>, field: &str) -> ServiceError {
    ServiceError::invalid(ErrorCode::InvalidValue, message).at(field)
}

/// A person's assignments, past ones too, the latest start first.
pub async fn of_person(
    state: &AppState,
    caller: &Caller,
    user_id: Uuid,
) -> Result<(UserRow, Vec<AssignmentSpan>), ServiceError> {
    let (user, _) = managed(state, caller, user_id).await?;
    let mut spans = state
        .store()
        .assignment_spans(user_id, "0000-01-01", OPEN_END)
        .await?;
    spans.reverse();
    Ok((user, spans))
}

/// An assignment to add: a division from a day, until a day or open-ended.
pub struct NewAssignment {
    pub division: String,
    pub starts_on: Date,
    pub ends_on: Option<Date>,
}

/// Refuses a division the caller does not manage, or that is not in the division list.
async fn check_division(
    state: &AppState,
    caller: &Caller,
    division: &str,
) -> Result<(), ServiceError> {
    if !manages(state, caller).await?.covers(division) {
        return Err(ServiceError::forbidden(
            ErrorCode::ForbiddenScope,
            format!("{division} is not under your divisions"),
        )
        .at("division"));
    }
    if state.store().division(division).await?.is_none() {
        return Err(invalid(
            format!("{division} is not a division code of the division list"),
            "division",
        ));
    }
    Ok(())
}

pub async fn add(
    state: &AppState,
    caller: &Caller,
    user_id: Uuid,
    new: NewAssignment,
) -> Result<(), ServiceError> {
    let (user, _) = managed(state, caller, user_id).await?;
    check_division(state, caller, &new.division).await?;
    if new.starts_on < clock::today() {
        return Err(invalid(
            "an assignment starts today or on a later day; past days are not rewritten",
            "starts_on",
        ));
    }
    if new.ends_on.is_some_and(|end| end < new.starts_on) {
        return Err(invalid("the last day comes before the first", "ends_on"));
    }
    let added = state
        .store()
        .add_assignment(
            user_id,
            &new.division,
            &clock::iso(new.starts_on),
            new.ends_on.map(clock::iso).as_deref(),
        )
        .await?;
    if !added {
        return Err(ServiceError::conflict(format!(
            "{} is already assigned to {} for part of that period; end that assignment or choose other days",
            user.username, new.division
        ))
        .at("starts_on"));
    }
    audit(
        state,
        caller,
        AuditAction::AssignmentAdded,
        ("user", user_id),
        &new.division,
        &["starts_on", "ends_on"],
    )
    .await
}

/// The assignment to `division` that starts on `starts_on` ends on `ends_on`, its last day:
/// yesterday (they stopped today) or later, and not before it starts.
pub async fn end(
    state: &AppState,
    caller: &Caller,
    user_id: Uuid,
    (division, starts_on): (&str, &str),
    ends_on: Date,
) -> Result<(), ServiceError> {
    let (user, _) = managed(state, caller, user_id).await?;
    check_division(state, caller, division).await?;
    let not_found = || ServiceError::not_found("no such assignment of this person");
    let span = state
        .store()
        .assignment_spans(user_id, starts_on, starts_on)
        .await?
        .into_iter()
        .find(|a| a.division_code == division && a.starts_on == starts_on)
        .ok_or_else(not_found)?;
    let yesterday = clock::yesterday_of(clock::today());
    let last = clock::iso(ends_on);
    if span
        .ends_on
        .as_deref()
        .is_some_and(|e| e < clock::iso(yesterday).as_str())
    {
        return Err(ServiceError::conflict(
            "this assignment is over; past periods stay as they were",
        ));
    }
    if ends_on < yesterday {
        return Err(invalid(
            "the last day is yesterday or later; past days are not rewritten",
            "ends_on",
        ));
    }
    if last.as_str() < starts_on {
        return Err(invalid(
            "the last day comes before the assignment starts",
            "ends_on",
        ));
    }
    match state
        .store()
        .end_assignment(user_id, division, starts_on, &last)
        .await?
    {
        Ending::Done => {}
        Ending::NotFound => return Err(not_found()),
        Ending::Overlaps => {
            return Err(ServiceError::conflict(format!(
                "{} has a later assignment to {division} that the new end would run into",
                user.username
            ))
            .at("ends_on"));
        }
    }
    audit(
        state,
        caller,
        AuditAction::AssignmentEnded,
        ("user", user_id),
        division,
        &["ends_on"],
    )
    .await
}
