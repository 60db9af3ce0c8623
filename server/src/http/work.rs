//! The lists a team leader works from: open tasks by village and assignee, overdue first
//! (`GET /v1/tasks`); cases by state (`GET /v1/cases`) and one case with its whole history
//! (`GET /v1/cases/{id}`); self-reports waiting for home verification
//! (`GET /v1/self-reports/awaiting`). Everything is limited to the caller's villages and
//! role, personal data is disclosed as the role may see it, and reads of it are audited.

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::error::ErrorBody;
use fieldsync_protocol::registry::{self, EntityDef, Personal};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{AppJson, AppPath, AppQuery, AuthUser};
use crate::access::{self, Action};
use crate::app::AppState;
use crate::clock;
use crate::privacy;
use crate::store::{AuditAction, AuditEntry, WorkRecord};

#[derive(utoipa::OpenApi)]
#[openapi(paths(tasks, cases, case, awaiting))]
pub(super) struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tasks", get(tasks))
        .route("/v1/cases", get(cases))
        .route("/v1/cases/{id}", get(case))
        .route("/v1/self-reports/awaiting", get(awaiting))
}

/// One record of a list, as the caller may see it (its `fields` are those of its entity in
/// `mobile-contract/schemas/entities.json`).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WorkItem)]
pub(crate) struct Item {
    pub id: Uuid,
    pub version: i64,
    pub village_code: String,
    pub fields: Map<String, Value>,
    pub received_at_ms: i64,
    /// Tasks: open after their due day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_overdue: Option<i64>,
}

/// Shows records of one entity to the caller: disclosed by role, reads of personal data
/// audited.
struct Shown<'a> {
    auth: &'a AuthUser,
    audit: Vec<AuditEntry>,
}

impl Shown<'_> {
    fn item(&mut self, def: &'static EntityDef, r: WorkRecord) -> Item {
        let mut fields = r.fields.0;
        privacy::disclose(self.auth.role, def, &mut fields);
        let personal: Vec<String> = def
            .fields
            .iter()
            .filter(|f| f.personal != Personal::None && fields.contains_key(f.name))
            .map(|f| f.name.to_owned())
            .collect();
        if !personal.is_empty() {
            self.audit.push(AuditEntry {
                user_id: self.auth.user_id,
                device_id: Some(self.auth.device_id),
                action: AuditAction::Read,
                entity: def.name,
                record_id: r.id,
                household_id: crate::sync::household_of(def, r.id, &fields),
                scope: Some(r.scope.clone()),
                fields: personal,
            });
        }
        Item {
            id: r.id,
            version: r.version,
            village_code: r.scope,
            fields,
            received_at_ms: r.created_at,
            days_overdue: None,
        }
    }

    async fn finish(self, state: &AppState) -> Result<(), ApiError> {
        state
            .store()
            .append_audit(&self.audit, clock::now_ms())
            .await?;
        Ok(())
    }
}

/// The villages a list covers: the caller's, or one of them.
async fn villages(
    state: &AppState,
    auth: &AuthUser,
    entity: &str,
    village: Option<&str>,
) -> Result<BTreeSet<String>, ApiError> {
    if !access::allowed(auth.role, entity, Action::Read) {
        return Err(ApiError::forbidden(
            ErrorCode::ForbiddenRole,
            format!("a {} does not read {entity} records", auth.role),
        ));
    }
    super::sync::villages_asked(state, auth, village).await
}

pub(crate) fn text<'a>(f: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    f.get(k)?.as_str()
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaskQuery {
    /// One of the caller's villages.
    #[param(schema_with = super::openapi::village_code)]
    pub village: Option<String>,
    /// Only this person's tasks.
    pub assignee: Option<Uuid>,
    /// `open` (default: open and in progress), `closed` (done and cancelled) or `all`.
    #[param(pattern = "^(open|closed|all)$")]
    pub status: Option<String>,
    /// Only tasks escalated to the caller.
    #[serde(default)]
    pub escalated_to_me: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TaskList {
    /// Open tasks overdue first (most overdue first), then by due day.
    pub tasks: Vec<Item>,
    pub open: usize,
    pub overdue: usize,
}

/// The tasks of the caller's villages: open ones overdue first.
#[utoipa::path(get, operation_id = "listTasks", path = "/v1/tasks", tag = "work", params(TaskQuery),
    responses(
        (status = 200, description = "The tasks", body = TaskList),
        (status = 403, description = "`forbidden_role` or `forbidden_scope` (`village`)", body = ErrorBody),
    ))]
async fn tasks(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(q): AppQuery<TaskQuery>,
) -> Result<AppJson<TaskList>, ApiError> {
    list_tasks(&state, &auth, q).await.map(AppJson)
}

pub(crate) async fn list_tasks(
    state: &AppState,
    auth: &AuthUser,
    q: TaskQuery,
) -> Result<TaskList, ApiError> {
    let which = q.status.as_deref().unwrap_or("open");
    let wanted: &[&str] = match which {
        "open" => registry::work::OPEN_TASK_STATUSES,
        "closed" => &["done", "cancelled"],
        "all" => registry::work::TASK_STATUSES,
        other => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRequest,
                format!("status is open, closed or all, not {other:?}"),
            )
            .at("status"));
        }
    };
    let villages = villages(state, auth, "task", q.village.as_deref()).await?;
    let today = clock::today();
    let me = auth.user_id.to_string();
    let assignee = q.assignee.map(|a| a.to_string());
    let mut shown = Shown {
        auth,
        audit: Vec::new(),
    };
    let mut items: Vec<Item> = Vec::new();
    for r in state
        .store()
        .work_records(registry::TASK.name, Some(&villages))
        .await?
    {
        let f = &r.fields.0;
        let status = text(f, "status").unwrap_or("open");
        if !wanted.contains(&status)
            || assignee
                .as_deref()
                .is_some_and(|a| text(f, "assignee_id") != Some(a))
            || q.escalated_to_me && text(f, "escalated_to") != Some(me.as_str())
        {
            continue;
        }
        let late = registry::work::OPEN_TASK_STATUSES
            .contains(&status)
            .then(|| text(f, "due_on").and_then(|d| days_after(today, d)))
            .flatten()
            .filter(|d| *d > 0);
        let mut item = shown.item(&registry::TASK, r);
        item.days_overdue = late;
        items.push(item);
    }
    items.sort_by(|a, b| {
        let due = |i: &Item| text(&i.fields, "due_on").unwrap_or("").to_owned();
        b.days_overdue
            .is_some()
            .cmp(&a.days_overdue.is_some())
            .then_with(|| due(a).cmp(&due(b)))
            .then_with(|| a.id.cmp(&b.id))
    });
    let open = items
        .iter()
        .filter(|i| {
            text(&i.fields, "status")
                .is_some_and(|s| registry::work::OPEN_TASK_STATUSES.contains(&s))
        })
        .count();
    let overdue = items.iter().filter(|i| i.days_overdue.is_some()).count();
    shown.finish(state).await?;
    Ok(TaskList {
        tasks: items,
        open,
        overdue,
    })
}

/// Days from `date` (`YYYY-MM-DD`) to `today`.
fn days_after(today: time::Date, date: &str) -> Option<i64> {
    Some((today - clock::parse_date(date)?).whole_days())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaseQuery {
    /// One of the caller's villages.
    #[param(schema_with = super::openapi::village_code)]
    pub village: Option<String>,
    /// Only cases in this state.
    #[param(schema_with = super::openapi::case_state)]
    pub state: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CaseList {
    /// How many cases are in each state (of the villages asked, whatever `state` filters).
    pub by_state: BTreeMap<String, usize>,
    /// Oldest first.
    pub cases: Vec<Item>,
}

/// The monitoring cases of the caller's villages, with counts by state.
#[utoipa::path(get, operation_id = "listCases", path = "/v1/cases", tag = "work", params(CaseQuery),
    responses(
        (status = 200, description = "The cases", body = CaseList),
        (status = 403, description = "`forbidden_role` or `forbidden_scope` (`village`)", body = ErrorBody),
    ))]
async fn cases(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(q): AppQuery<CaseQuery>,
) -> Result<AppJson<CaseList>, ApiError> {
    list_cases(&state, &auth, q).await.map(AppJson)
}

pub(crate) async fn list_cases(
    state: &AppState,
    auth: &AuthUser,
    q: CaseQuery,
) -> Result<CaseList, ApiError> {
    if let Some(s) = q.state.as_deref()
        && !registry::work::CASE_STATES.contains(&s)
    {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidRequest,
            format!("state is one of {}", registry::work::CASE_STATES.join(", ")),
        )
        .at("state"));
    }
    let villages = villages(state, auth, "case", q.village.as_deref()).await?;
    let mut by_state: BTreeMap<String, usize> = registry::work::CASE_STATES
        .iter()
        .map(|s| ((*s).to_owned(), 0))
        .collect();
    let mut shown = Shown {
        auth,
        audit: Vec::new(),
    };
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
pub(crate) struct CaseView {
    pub case: Item,
    /// Every step proposed, oldest first, with the server's outcome.
    pub steps: Vec<Item>,
    pub tasks: Vec<Item>,
    pub reports: Vec<Item>,
}

/// One case with its whole history: steps with their outcomes, tasks and self-reports.
#[utoipa::path(get, operation_id = "getCase", path = "/v1/cases/{id}", tag = "work",
    params(("id" = Uuid, Path, description = "The case")),
    responses(
        (status = 200, description = "The case", body = CaseView),
        (status = 403, description = "`forbidden_role`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such case in the caller's villages", body = ErrorBody),
    ))]
async fn case(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(id): AppPath<Uuid>,
) -> Result<AppJson<CaseView>, ApiError> {
    case_of(&state, &auth, id).await.map(AppJson)
}

pub(crate) async fn case_of(
    state: &AppState,
    auth: &AuthUser,
    id: Uuid,
) -> Result<CaseView, ApiError> {
    let mine = villages(state, auth, "case", None).await?;
    let record = state
        .store()
        .record(id)
        .await?
        .filter(|r| r.entity == registry::CASE.name && !r.deleted && mine.contains(&r.scope))
        .ok_or_else(|| ApiError::not_found("no such case"))?;
    let village: BTreeSet<String> = [record.scope.clone()].into_iter().collect();
    let mut shown = Shown {
        auth,
        audit: Vec::new(),
    };
    let id_text = id.to_string();
    let mut related = |def: &'static EntityDef, rows: Vec<WorkRecord>| -> Vec<Item> {
        if !access::allowed(auth.role, def.name, Action::Read) {
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

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Awaiting {
    /// Self-reports whose case still waits for home verification, oldest first.
    pub reports: Vec<Item>,
}

/// Self-reports whose case still waits for the home verification visit.
#[utoipa::path(get, operation_id = "listAwaitingSelfReports", path = "/v1/self-reports/awaiting", tag = "work", params(VillageOnly),
    responses(
        (status = 200, description = "The reports", body = Awaiting),
        (status = 403, description = "`forbidden_role` or `forbidden_scope` (`village`)", body = ErrorBody),
    ))]
async fn awaiting(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(q): AppQuery<VillageOnly>,
) -> Result<AppJson<Awaiting>, ApiError> {
    list_awaiting(&state, &auth, q).await.map(AppJson)
}

pub(crate) async fn list_awaiting(
    state: &AppState,
    auth: &AuthUser,
    q: VillageOnly,
) -> Result<Awaiting, ApiError> {
    let villages = villages(state, auth, "self_report", q.village.as_deref()).await?;
    let store = state.store();
    let waiting: BTreeSet<String> = store
        .work_records(registry::CASE.name, Some(&villages))
        .await?
        .into_iter()
        .filter(|c| text(&c.fields.0, "state") == Some("reported"))
        .map(|c| c.id.to_string())
        .collect();
    let mut shown = Shown {
        auth,
        audit: Vec::new(),
    };
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct VillageOnly {
    /// One of the caller's villages.
    #[param(schema_with = super::openapi::village_code)]
    pub village: Option<String>,
}
