//! Monthly attendance over HTTP (the operations are `crate::service::attendance`):
//! - `GET /v1/attendance?user_id=&month=YYYY-MM`: a cadre's sheet with the evidence behind each
//!   day, its review state and history, and once approved the approved figures with any later
//!   amendments;
//! - `POST /v1/attendance/review`: the team leader approves (locks), returns with a comment, or
//!   accepts a doubted event with a comment;
//! - `POST /v1/attendance/reply`: the cadre answers a returned sheet;
//! - `GET /v1/attendance/table.{csv,xlsx}`: the township's monthly table;
//! - `GET /v1/villages/{code}/coverage`: which households of a village were visited.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use fieldsync_protocol::error::ErrorBody;
use serde::Deserialize;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{AppJson, AppPath, AppQuery, AuthUser};
use crate::export::Format;
use crate::service::attendance::{self as ops, Coverage, Review, SheetView};
use crate::state::AppState;

#[derive(utoipa::OpenApi)]
#[openapi(paths(sheet, review, reply, table_csv, table_xlsx, coverage))]
pub(super) struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/attendance", get(sheet))
        .route("/v1/attendance/review", post(review))
        .route("/v1/attendance/reply", post(reply))
        .route("/v1/attendance/table.csv", get(table_csv))
        .route("/v1/attendance/table.xlsx", get(table_xlsx))
        .route("/v1/villages/{code}/coverage", get(coverage))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SheetQuery {
    /// The cadre; the caller when absent.
    user_id: Option<Uuid>,
    /// `YYYY-MM`; this month when absent.
    #[param(schema_with = super::openapi::month)]
    month: Option<String>,
}

/// A cadre's sheet for a month: one's own, or, for a team leader, a cadre of their villages.
#[utoipa::path(get, operation_id = "getAttendanceSheet", path = "/v1/attendance", tag = "attendance", params(SheetQuery),
    responses(
        (status = 200, description = "The sheet", body = SheetView),
        (status = 404, description = "`not_found`: not a cadre the caller oversees", body = ErrorBody),
    ))]
async fn sheet(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(q): AppQuery<SheetQuery>,
) -> Result<AppJson<SheetView>, ApiError> {
    Ok(AppJson(
        ops::sheet_of(&state, &auth, q.user_id, q.month.as_deref()).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReviewRequest {
    user_id: Uuid,
    #[schema(schema_with = super::openapi::month)]
    month: String,
    /// `approve`, `return` (with a `comment`) or `accept_event` (with an `event_id`).
    #[schema(pattern = "^(approve|return|accept_event)$")]
    action: String,
    comment: Option<String>,
    event_id: Option<Uuid>,
}

/// A team leader approves a sheet, returns it with a comment, or accepts a doubted event
/// (`event_id`) so that its day counts.
#[utoipa::path(post, operation_id = "reviewAttendance", path = "/v1/attendance/review", tag = "attendance", request_body = ReviewRequest,
    responses(
        (status = 200, description = "The sheet after the decision", body = SheetView),
        (status = 403, description = "`forbidden_role`: not a reviewer, or one's own sheet", body = ErrorBody),
        (status = 404, description = "`not_found`: not a cadre the caller oversees", body = ErrorBody),
        (status = 400, description = "`missing_field` (a return needs a `comment`, an acceptance an `event_id`), `unknown_reference` (not an event of this cadre in this month), `invalid_value` (`action`) or `invalid_request`", body = ErrorBody),
        (status = 409, description = "The sheet is already approved (approved sheets are locked)", body = ErrorBody),
    ))]
async fn review(
    State(state): State<AppState>,
    auth: AuthUser,
    AppJson(req): AppJson<ReviewRequest>,
) -> Result<AppJson<SheetView>, ApiError> {
    let review = Review {
        user_id: req.user_id,
        month: req.month,
        action: req.action,
        comment: req.comment,
        event_id: req.event_id,
    };
    Ok(AppJson(ops::decide(&state, &auth, review).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReplyRequest {
    #[schema(schema_with = super::openapi::month)]
    month: String,
    comment: String,
}

/// The cadre answers a returned sheet (with the leave request or the explanation asked for).
#[utoipa::path(post, operation_id = "replyAttendance", path = "/v1/attendance/reply", tag = "attendance", request_body = ReplyRequest,
    responses(
        (status = 200, description = "The sheet with the answer", body = SheetView),
        (status = 400, description = "`invalid_value` (a comment of 1 to 1000 characters) or `invalid_request`", body = ErrorBody),
        (status = 409, description = "The sheet is not returned", body = ErrorBody),
    ))]
async fn reply(
    State(state): State<AppState>,
    auth: AuthUser,
    AppJson(req): AppJson<ReplyRequest>,
) -> Result<AppJson<SheetView>, ApiError> {
    Ok(AppJson(
        ops::reply(&state, &auth, &req.month, &req.comment).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct TableQuery {
    /// A division code (township, county …) of the caller's villages.
    // Patterns as in `super::openapi::{division_code, month}`: `schema_with` would make the
    // parameters optional.
    #[param(pattern = "^[0-9]{2,12}$")]
    division: String,
    /// `YYYY-MM`.
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    month: String,
}

/// The monthly attendance table (one row per cadre, one column per day) as CSV.
#[utoipa::path(get, operation_id = "attendanceTableCsv", path = "/v1/attendance/table.csv", tag = "attendance", params(TableQuery),
    responses(
        (status = 200, description = "CSV", body = String, content_type = "text/csv"),
        (status = 403, description = "`forbidden_role`", body = ErrorBody),
    ))]
async fn table_csv(
    state: State<AppState>,
    auth: AuthUser,
    query: AppQuery<TableQuery>,
) -> Result<Response, ApiError> {
    table_file(state, auth, query, Format::Csv).await
}

/// The same table as an Excel workbook.
#[utoipa::path(get, operation_id = "attendanceTableXlsx", path = "/v1/attendance/table.xlsx", tag = "attendance", params(TableQuery),
    responses(
        (status = 200, description = "XLSX", body = super::openapi::Binary, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, description = "`forbidden_role`", body = ErrorBody),
    ))]
async fn table_xlsx(
    state: State<AppState>,
    auth: AuthUser,
    query: AppQuery<TableQuery>,
) -> Result<Response, ApiError> {
    table_file(state, auth, query, Format::Xlsx).await
}

async fn table_file(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(q): AppQuery<TableQuery>,
    format: Format,
) -> Result<Response, ApiError> {
    let file = ops::table_file(&state, &auth, &q.division, &q.month, format).await?;
    Ok(crate::web::attachment(
        file.bytes,
        file.content_type,
        &file.name,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CoverageQuery {
    /// `YYYY-MM`; this month when absent.
    #[param(schema_with = super::openapi::month)]
    month: Option<String>,
}

/// `GET /v1/villages/{code}/coverage?month=`: which households of a village were visited (or
/// checked) this month and which not.
#[utoipa::path(get, operation_id = "getVillageCoverage", path = "/v1/villages/{code}/coverage", tag = "attendance",
    params(("code" = String, Path, description = "The village's 12-digit code", pattern = "^[0-9]{12}$"), CoverageQuery),
    responses(
        (status = 200, description = "Visited and unvisited households", body = Coverage),
        (status = 404, description = "`not_found`: not one of the caller's villages, or the role does not read households", body = ErrorBody),
    ))]
async fn coverage(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(village): AppPath<String>,
    AppQuery(q): AppQuery<CoverageQuery>,
) -> Result<AppJson<Coverage>, ApiError> {
    Ok(AppJson(
        ops::coverage(&state, &auth, village, q.month.as_deref()).await?,
    ))
}
