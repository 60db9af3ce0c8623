//! The lists a team leader works from (the operations are `crate::service::work`): open tasks
//! by village and assignee, overdue first (`GET /v1/tasks`); cases by state (`GET /v1/cases`)
//! and one case with its whole history (`GET /v1/cases/{id}`); self-reports waiting for home
//! verification (`GET /v1/self-reports/awaiting`).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use fieldsync_protocol::error::ErrorBody;
use serde::Deserialize;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{AppJson, AppPath, AppQuery, AuthUser};
use crate::service::work::{
    self as ops, Awaiting, CaseFilter, CaseList, CaseView, TaskFilter, TaskList,
};
use crate::state::AppState;

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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct TaskQuery {
    /// One of the caller's villages.
    #[param(schema_with = super::openapi::village_code)]
    village: Option<String>,
    /// Only this person's tasks.
    assignee: Option<Uuid>,
    /// `open` (default: open and in progress), `closed` (done and cancelled) or `all`.
    #[param(pattern = "^(open|closed|all)$")]
    status: Option<String>,
    /// Only tasks escalated to the caller.
    #[serde(default)]
    escalated_to_me: bool,
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
    let filter = TaskFilter {
        village: q.village,
        assignee: q.assignee,
        status: q.status,
        escalated_to_me: q.escalated_to_me,
    };
    Ok(AppJson(ops::list_tasks(&state, &auth, filter).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct CaseQuery {
    /// One of the caller's villages.
    #[param(schema_with = super::openapi::village_code)]
    village: Option<String>,
    /// Only cases in this state.
    #[param(schema_with = super::openapi::case_state)]
    state: Option<String>,
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
    let filter = CaseFilter {
        village: q.village,
        state: q.state,
    };
    Ok(AppJson(ops::list_cases(&state, &auth, filter).await?))
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
    Ok(AppJson(ops::case_of(&state, &auth, id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct VillageOnly {
    /// One of the caller's villages.
    #[param(schema_with = super::openapi::village_code)]
    village: Option<String>,
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
    Ok(AppJson(
        ops::list_awaiting(&state, &auth, q.village.as_deref()).await?,
    ))
}
