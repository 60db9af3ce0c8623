//! Monitoring cases: the list by state, one case with its whole history, a step of the
//! procedure (a `case_step` pushed from the caller's device, judged by the state machine as a
//! phone's is), and the self-reports whose case waits for the home verification visit.

use std::collections::{BTreeMap, BTreeSet};

use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::registry::{self, EntityDef};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{Item, Shown, stamp, text, villages};
use crate::access::{self, Action};
use crate::clock;
use crate::service::{Caller, ServiceError, push};
use crate::state::AppState;
use crate::store::WorkRecord;

/// Which cases a list shows.
#[derive(Default)]
pub struct CaseFilter {
    /// One of the caller's villages; all of them when absent.
    pub village: Option<String>,
    /// Only cases in this state.
    pub state: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CaseList {
    /// How many cases are in each state (of the villages asked, whatever `state` filters).
    pub by_state: BTreeMap<String, usize>,
    /// Oldest first.
    pub cases: Vec<Item>,
}

/// The monitoring cases of the caller's villages, with counts by state.
pub async fn list_cases(
    state: &AppState,
    caller: &Caller,
    q: CaseFilter,
) -> Result<CaseList, ServiceError> {
    if let Some(s) = q.state.as_deref()
        && !registry::work::CASE_STATES.contains(&s)
    {
        return Err(ServiceError::invalid(
            ErrorCode::InvalidRequest,
            format!("state is one of {}", registry::work::CASE_STATES.join(", ")),
        )
        .at("state"));
    }
    let villages = villages(state, caller, "case", q.village.as_deref()).await?;
    let mut by_state: BTreeMap<String, usize> = registry::work::CASE_STATES
        .iter()
        .map(|s| ((*s).to_owned(), 0))
        .collect();
    let mut shown = Shown::new(caller);
    let mut items = Vec::new();
    for r in state
        .store()
        .work_records(registry::CASE.name, Some(&villages))
        .await?
    {
        let s = text(&r.fields.0, "state").unwrap_or("reported").to_owned();
        *by_state.entry(s.clone()).or_default() += 1;
        if q.state.as_deref().is_none_or(|want| want == s) {
            items.push(shown.item(&registry::CASE, r));
        }
    }
    shown.finish(state).await?;
    Ok(CaseList {
        by_state,
        cases: items,
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CaseView {
    pub case: Item,
    /// Every step proposed, oldest first, with the server's outcome.
    pub steps: Vec<Item>,
    pub tasks: Vec<Item>,
    pub reports: Vec<Item>,
}

/// One case with its whole history: steps with their outcomes, tasks and self-reports.
pub async fn case_of(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<CaseView, ServiceError> {
    let mine = villages(state, caller, "case", None).await?;
    let record = state
        .store()
        .record(id)
        .await?
        .filter(|r| r.entity == registry::CASE.name && !r.deleted && mine.contains(&r.scope))
        .ok_or_else(|| ServiceError::not_found("no such case"))?;
    let village: BTreeSet<String> = [record.scope.clone()].into_iter().collect();
    let mut shown = Shown::new(caller);
    let id_text = id.to_string();
    let mut related = |def: &'static EntityDef, rows: Vec<WorkRecord>| -> Vec<Item> {
        if !access::allowed(caller.role, def.name, Action::Read) {
            return Vec::new();
        }
        rows.into_iter()
            .filter(|r| text(&r.fields.0, "case_id") == Some(id_text.as_str()))
            .map(|r| shown.item(def, r))
            .collect()
    };
    let store = state.store();
    let steps = related(
        &registry::CASE_STEP,
        store
            .work_records(registry::CASE_STEP.name, Some(&village))
            .await?,
    );
    let tasks = related(
        &registry::TASK,
        store
            .work_records(registry::TASK.name, Some(&village))
            .await?,
    );
    let reports = related(
        &registry::SELF_REPORT,
        store
            .work_records(registry::SELF_REPORT.name, Some(&village))
            .await?,
    );
    let case = shown.item(
        &registry::CASE,
        WorkRecord {
            id: record.id,
            scope: record.scope,
            version: record.version,
            fields: record.fields,
            created_at: 0,
        },
    );
    shown.finish(state).await?;
    Ok(CaseView {
        case,
        steps,
        tasks,
        reports,
    })
}

/// Proposes a step of case `id` with `fields` (`from`, `to` and the evidence the step needs:
/// `visit_id`, `publicity_days`, `case_type`, `reason`, `measures`, `note`), taken now on the
/// caller's device. The outcome is the state machine's, recorded on the step.
pub async fn take_step(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    mut fields: Map<String, Value>,
) -> Result<(), ServiceError> {
    fields.insert("case_id".into(), json!(id));
    fields.insert(
        "taken_at".into(),
        json!(clock::rfc3339_of_ms(clock::now_ms())),
    );
    push::push_one(
        state,
        caller,
        json!({
            "mutation_id": Uuid::now_v7(),
            "entity": "case_step",
            "id": Uuid::now_v7(),
            "op": "create",
            "fields": fields,
            "hlc": stamp(caller),
        }),
    )
    .await?;
    Ok(())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Awaiting {
    /// Self-reports whose case still waits for home verification, oldest first.
    pub reports: Vec<Item>,
}

/// Self-reports of the caller's villages (or of `village`) whose case still waits for the
/// home verification visit.
pub async fn list_awaiting(
    state: &AppState,
    caller: &Caller,
    village: Option<&str>,
) -> Result<Awaiting, ServiceError> {
    let villages = villages(state, caller, "self_report", village).await?;
    let store = state.store();
    let waiting: BTreeSet<String> = store
        .work_records(registry::CASE.name, Some(&villages))
        .await?
        .into_iter()
        .filter(|c| text(&c.fields.0, "state") == Some("reported"))
        .map(|c| c.id.to_string())
        .collect();
    let mut shown = Shown::new(caller);
    let reports = store
        .work_records(registry::SELF_REPORT.name, Some(&villages))
        .await?
        .into_iter()
        .filter(|r| text(&r.fields.0, "case_id").is_some_and(|c| waiting.contains(c)))
        .map(|r| shown.item(&registry::SELF_REPORT, r))
        .collect();
    shown.finish(state).await?;
    Ok(Awaiting { reports })
}
