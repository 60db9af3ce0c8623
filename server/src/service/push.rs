//! Pushing mutations, for every front end: a phone's batch, and the single mutations the
//! console makes on a reviewer's behalf (a task's reassignment, a case's step). Both go
//! through `crate::sync::push` from the caller's own device, judged by the same rules, so a
//! front end cannot do what a phone of the same person could not, and every phone pulls the
//! change.

use fieldsync_protocol::push::{ClientInfo, MutationResult, Status};
use serde_json::Value;

use super::{Caller, ServiceError};
use crate::config::Settings;
use crate::state::AppState;
use crate::store::SubmissionNote;
use crate::sync::push::{PushError, PushRules};
use crate::sync::{Actor, SessionCheck};

/// The limits a push is judged by, from the settings.
pub fn rules(state: &AppState, now_ms: i64) -> PushRules {
    rules_of(state.settings(), now_ms)
}

/// The limits a push is judged by, from settings read without a running server (the command
/// line's imports).
pub fn rules_of(settings: &Settings, now_ms: i64) -> PushRules {
    let limits = &settings.limits;
    PushRules {
        now_ms,
        max_clock_ahead_ms: limits.max_clock_ahead_s.saturating_mul(1000),
        gps: settings.gps.clone(),
        self_reports_per_day: limits.self_reports_per_day,
        late_edit_ms: limits.late_edit_days.saturating_mul(86_400_000),
        monitoring: settings.monitoring.clone(),
    }
}

/// Pushes `mutations` (raw JSON, each validated on its own) from the caller's device at
/// `now_ms`: one result per mutation, in order; a refused one is `rejected` alone.
pub async fn push(
    state: &AppState,
    caller: &Caller,
    mutations: Vec<Value>,
    client: &ClientInfo,
    now_ms: i64,
) -> Result<Vec<MutationResult>, ServiceError> {
    let actor = caller.actor(state).await?;
    push_as(state, &actor, mutations, client, now_ms, None).await
}

/// [`push`] for a caller whose villages are read already.
/// With `check`, the caller was known from an earlier push of its session and is checked again
/// in the push's transaction (`Caller::actor_for_push`); a session found ended or changed there
/// is forgotten, so that the phone's next request reads it.
pub async fn push_as(
    state: &AppState,
    actor: &Actor,
    mutations: Vec<Value>,
    client: &ClientInfo,
    now_ms: i64,
    check: Option<SessionCheck>,
) -> Result<Vec<MutationResult>, ServiceError> {
    let rules = rules(state, now_ms);
    let session = check.as_ref().map(|c| c.session_id);
    match state
        .committer()
        .push(actor, &rules, mutations, client, check)
        .await
    {
        Ok(results) => Ok(results),
        Err(e) => {
            if let (PushError::Session(_) | PushError::CallerChanged, Some(s)) = (&e, session) {
                state.sessions().forget(s);
            }
            Err(e.into())
        }
    }
}

/// [`push`] for the mutations an OpenRosa submission became: the submission is noted as
/// pushed in the push's own transaction when none of them is rejected.
pub async fn push_submission(
    state: &AppState,
    caller: &Caller,
    mutations: Vec<Value>,
    client: &ClientInfo,
    now_ms: i64,
    submission: SubmissionNote,
) -> Result<Vec<MutationResult>, ServiceError> {
    let actor = caller.actor(state).await?;
    let rules = rules(state, now_ms);
    Ok(state
        .committer()
        .push_submission(&actor, &rules, mutations, client, submission)
        .await?)
}

/// Pushes one mutation made on the caller's behalf; a refusal is the error, with the reason
/// the server gave.
pub async fn push_one(
    state: &AppState,
    caller: &Caller,
    mutation: Value,
) -> Result<MutationResult, ServiceError> {
    let results = push(
        state,
        caller,
        vec![mutation],
        &ClientInfo::default(),
        crate::clock::now_ms(),
    )
    .await?;
    match results.into_iter().next() {
        Some(r) if r.status == Status::Rejected => Err(match r.error {
            Some(detail) => ServiceError::from_detail(detail),
            None => ServiceError::internal("a rejection without a reason"),
        }),
        Some(r) => Ok(r),
        None => Err(ServiceError::internal("push gave no result")),
    }
}
