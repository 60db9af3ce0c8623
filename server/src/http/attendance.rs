//! Monthly attendance over HTTP:
//! - `GET /v1/attendance?user_id=&month=YYYY-MM`: a cadre's sheet with the evidence behind each
//!   day (see `crate::attendance`), its review state and history, and once approved the approved
//!   figures with any later amendments;
//! - `POST /v1/attendance/review`: the team leader approves (locks), returns with a comment, or
//!   accepts a doubted event with a comment;
//! - `POST /v1/attendance/reply`: the cadre answers a returned sheet.
//!
//! Everyone sees their own sheet; township supervisors (team leaders), county officers and
//! administrators see and review those of the cadres with attendance duty (first secretaries,
//! work team members) assigned to villages they oversee, never a colleague's or a superior's.
//! To anyone else a sheet does not exist.

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use fieldsync_protocol::error::ErrorBody;
use fieldsync_protocol::{ErrorCode, Role};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::Month;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{AppJson, AppQuery, AuthUser};
use super::sync::actor;
use crate::app::AppState;
use crate::attendance::{self, Sheet, Span, load, review_state};
use crate::clock;
use crate::export::Format;
use crate::store::{ReviewRow, village_range};

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

/// Roles that review other cadres' attendance.
pub(crate) const REVIEWERS: &[Role] = &[Role::TownshipSupervisor, Role::CountyOfficer, Role::Admin];

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SheetQuery {
    /// The cadre; the caller when absent.
    user_id: Option<Uuid>,
    /// `YYYY-MM`; this month when absent.
    #[param(schema_with = super::openapi::month)]
    month: Option<String>,
}

/// A cadre's month: every day with its evidence, the counts, and where the review stands.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SheetView {
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
pub(crate) struct ReviewView {
    /// `open`, `returned`, `answered` or `approved`.
    pub state: &'static str,
    pub locked: bool,
    pub history: Vec<ReviewEntry>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ReviewEntry {
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
pub(crate) struct Amendment {
    pub date: String,
    pub approved: Value,
    pub now: Value,
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
    sheet_of(&state, &auth, q.user_id, q.month.as_deref())
        .await
        .map(AppJson)
}

/// A cadre's sheet (the caller's own when `user_id` is absent) for `month` (this month when
/// absent), if the caller may see it: the API's and the console's.
pub(crate) async fn sheet_of(
    state: &AppState,
    auth: &AuthUser,
    user_id: Option<Uuid>,
    month: Option<&str>,
) -> Result<SheetView, ApiError> {
    let month = month_of(month)?;
    let user_id = user_id.unwrap_or(auth.user_id);
    let spans = load::spans(state.store(), user_id, month).await?;
    if user_id != auth.user_id && !oversees(state, auth, user_id, &spans).await? {
        return Err(ApiError::not_found("no such cadre"));
    }
    let reviews = state.store().reviews(user_id, &month_text(month)).await?;
    let sheet = computed(state, user_id, month, &spans, &reviews).await?;
    Ok(view(sheet, &reviews))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewRequest {
    pub user_id: Uuid,
    #[schema(schema_with = super::openapi::month)]
    pub month: String,
    /// `approve`, `return` (with a `comment`) or `accept_event` (with an `event_id`).
    #[schema(pattern = "^(approve|return|accept_event)$")]
    pub action: String,
    pub comment: Option<String>,
    pub event_id: Option<Uuid>,
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
    decide(&state, &auth, req).await.map(AppJson)
}

/// A team leader's decision on a sheet: the API's and the console's.
pub(crate) async fn decide(
    state: &AppState,
    auth: &AuthUser,
    req: ReviewRequest,
) -> Result<SheetView, ApiError> {
    let month = month_of(Some(&req.month))?;
    let spans = load::spans(state.store(), req.user_id, month).await?;
    if !REVIEWERS.contains(&auth.role) || req.user_id == auth.user_id {
        return Err(ApiError::forbidden(
            ErrorCode::ForbiddenRole,
            "only a team leader reviews attendance, and not their own",
        ));
    }
    if !oversees(state, auth, req.user_id, &spans).await? {
        return Err(ApiError::not_found("no such cadre"));
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
        || ApiError::bad_request(ErrorCode::MissingField, "say why, in a comment").at("comment");
    let mut snapshot = None;
    match req.action.as_str() {
        "approve" | "return" if locked => {
            return Err(ApiError::client(
                StatusCode::CONFLICT,
                ErrorCode::Conflict,
                "the sheet is approved and locked; later changes show as amendments",
            ));
        }
        "approve" => {
            let sheet = computed(state, req.user_id, month, &spans, &reviews).await?;
            snapshot = Some(serde_json::to_string(&sheet).map_err(ApiError::internal)?);
        }
        "return" if comment.is_none() => return Err(needs_comment()),
        "return" => {}
        "accept_event" => {
            if comment.is_none() {
                return Err(needs_comment());
            }
            let Some(event) = req.event_id else {
                return Err(
                    ApiError::bad_request(ErrorCode::MissingField, "which event").at("event_id"),
                );
            };
            let (start, end) = load::month_ms(month).ok_or_else(no_such_month)?;
            let events = store.presence_events(req.user_id, start, end).await?;
            if !events.iter().any(|e| e.record_id == event) {
                return Err(ApiError::bad_request(
                    ErrorCode::UnknownReference,
                    "not an event of this cadre in this month",
                )
                .at("event_id"));
            }
        }
        _ => {
            return Err(ApiError::bad_request(
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
            by_user: auth.user_id,
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
    let month = month_of(Some(&req.month))?;
    let store = state.store();
    let reviews = store.reviews(auth.user_id, &req.month).await?;
    if review_state(&reviews) != "returned" {
        return Err(ApiError::client(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            "only a returned sheet is answered",
        ));
    }
    let comment = req.comment.trim();
    if comment.is_empty() || comment.chars().count() > 1000 {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidValue,
            "a comment of 1 to 1000 characters",
        )
        .at("comment"));
    }
    store
        .add_review(&ReviewRow {
            id: Uuid::now_v7(),
            user_id: auth.user_id,
            month: req.month.clone(),
            action: "reply".to_owned(),
            by_user: auth.user_id,
            comment: Some(comment.to_owned()),
            event_id: None,
            snapshot: None,
            at: clock::now_ms(),
        })
        .await?;
    let spans = load::spans(state.store(), auth.user_id, month).await?;
    let reviews = store.reviews(auth.user_id, &req.month).await?;
    let sheet = computed(&state, auth.user_id, month, &spans, &reviews).await?;
    Ok(AppJson(view(sheet, &reviews)))
}

pub(crate) fn month_of(text: Option<&str>) -> Result<(i32, Month), ApiError> {
    let today = clock::today();
    match text {
        Some(text) => attendance::parse_month(text).ok_or_else(|| {
            ApiError::bad_request(ErrorCode::InvalidRequest, "month is YYYY-MM").at("month")
        }),
        None => Ok((today.year(), today.month())),
    }
}

pub(crate) fn month_text((year, month): (i32, Month)) -> String {
    format!("{year:04}-{:02}", u8::from(month))
}

/// Whether the caller reviews this user's sheet: a reviewing role, a user with attendance duty
/// (a first secretary or work team member: a county officer's or another supervisor's sheet is
/// nobody's to review), and one of the user's villages among the caller's own.
async fn oversees(
    state: &AppState,
    auth: &AuthUser,
    user_id: Uuid,
    spans: &[Span],
) -> Result<bool, ApiError> {
    if !REVIEWERS.contains(&auth.role) {
        return Ok(false);
    }
    let Some(user) = state.store().user_by_id(user_id).await? else {
        return Ok(false);
    };
    if !attendance::CADRE_ROLES.contains(&user.role()?) {
        return Ok(false);
    }
    let actor = actor(state, auth).await?;
    Ok(spans.iter().any(|s| {
        let (lo, hi) = village_range(&s.division);
        actor.villages.range(lo..=hi).next().is_some()
    }))
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

/// The township's (or any division's) monthly table: cadres of the caller's villages below
/// `division`, one column per day.
async fn table(
    state: &AppState,
    auth: &AuthUser,
    q: &TableQuery,
) -> Result<(Vec<String>, Vec<Vec<crate::export::Cell>>), ApiError> {
    let month = month_of(Some(&q.month))?;
    let cadres = cadres_of(state, auth, &q.division, month).await?;
    let rows = attendance::table::rows(state.store(), &cadres, month).await?;
    let days = attendance::month_bounds(month.0, month.1)
        .ok_or_else(no_such_month)?
        .1
        .day();
    Ok((attendance::table::headers(days), rows))
}

/// The cadres below `division` whose attendance the caller reviews in `month`: one row per
/// cadre and village of the caller's.
pub(crate) async fn cadres_of(
    state: &AppState,
    auth: &AuthUser,
    division: &str,
    month: (i32, Month),
) -> Result<Vec<crate::store::CadreRow>, ApiError> {
    if !REVIEWERS.contains(&auth.role) {
        return Err(ApiError::forbidden(
            ErrorCode::ForbiddenRole,
            "the attendance table is for team leaders and county officers",
        ));
    }
    if !(2..=12).contains(&division.len()) || !division.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidRequest,
            "division is a division code",
        )
        .at("division"));
    }
    let (first, last) = attendance::month_bounds(month.0, month.1).ok_or_else(no_such_month)?;
    let actor = actor(state, auth).await?;
    Ok(state
        .store()
        .cadres_under(division, &clock::iso(first), &clock::iso(last))
        .await?
        .into_iter()
        .filter(|c| actor.villages.contains(&c.division_code))
        .collect())
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
) -> Result<axum::response::Response, ApiError> {
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
) -> Result<axum::response::Response, ApiError> {
    table_file(state, auth, query, Format::Xlsx).await
}

/// The table as a file; a county's is a few hundred rows, made in memory on a blocking thread.
async fn table_file(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(q): AppQuery<TableQuery>,
    format: Format,
) -> Result<axum::response::Response, ApiError> {
    table_download(&state, &auth, q.division, q.month, format).await
}

/// The monthly table of `division` as a download: the API's and the console's.
pub(crate) async fn table_download(
    state: &AppState,
    auth: &AuthUser,
    division: String,
    month: String,
    format: Format,
) -> Result<axum::response::Response, ApiError> {
    let q = TableQuery { division, month };
    let (headers, rows) = table(state, auth, &q).await?;
    let body =
        tokio::task::spawn_blocking(move || attendance::table::file(format, &headers, &rows))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
    let name = format!(
        "attendance-{}-{}.{}",
        q.division,
        q.month,
        format.extension()
    );
    Ok(download(body, format.content_type(), &name))
}

fn download(body: Vec<u8>, content_type: &'static str, name: &str) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

fn no_such_month() -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidRequest, "no such month").at("month")
}

async fn computed(
    state: &AppState,
    user_id: Uuid,
    month: (i32, Month),
    spans: &[Span],
    reviews: &[ReviewRow],
) -> Result<Sheet, ApiError> {
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

#[derive(Serialize, utoipa::ToSchema)]
struct Coverage {
    village: String,
    month: String,
    households: usize,
    visited: usize,
    /// Visited households per household, 0 to 1.
    coverage: f64,
    /// Households with no visit or check this month: who to see next.
    unvisited: Vec<CoveredHousehold>,
    visited_households: Vec<CoveredHousehold>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct CoveredHousehold {
    household_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    head_name: Option<String>,
    visits: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_visit_ms: Option<i64>,
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
    super::extract::AppPath(village): super::extract::AppPath<String>,
    AppQuery(q): AppQuery<CoverageQuery>,
) -> Result<AppJson<Coverage>, ApiError> {
    use crate::access::{self, Action};
    let actor = actor(&state, &auth).await?;
    if !actor.villages.contains(&village)
        || !access::allowed(
            auth.role,
            fieldsync_protocol::registry::HOUSEHOLD.name,
            Action::Read,
        )
    {
        return Err(ApiError::not_found("no such village"));
    }
    let month = month_of(q.month.as_deref())?;
    let (start, end) = load::month_ms(month).ok_or_else(no_such_month)?;
    let rows = state.store().village_coverage(&village, start, end).await?;
    // The head's name is personal data: its reading is audited like any other.
    let audit: Vec<crate::store::AuditEntry> = rows
        .iter()
        .map(|r| crate::store::AuditEntry {
            user_id: auth.user_id,
            device_id: Some(auth.device_id),
            action: crate::store::AuditAction::Read,
            entity: fieldsync_protocol::registry::HOUSEHOLD.name,
            record_id: r.household_id,
            household_id: Some(r.household_id),
            scope: Some(village.clone()),
            fields: vec!["head_name".to_owned()],
        })
        .collect();
    state.store().append_audit(&audit, clock::now_ms()).await?;
    let households = rows.len();
    let (visited, unvisited): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .map(|r| CoveredHousehold {
            household_id: r.household_id,
            head_name: r
                .fields
                .0
                .get("head_name")
                .and_then(Value::as_str)
                .map(str::to_owned),
            visits: r.visits,
            last_visit_ms: r.last_visit_ms,
        })
        .partition(|h| h.visits > 0);
    Ok(AppJson(Coverage {
        village,
        month: month_text(month),
        households,
        visited: visited.len(),
        coverage: if households == 0 {
            0.0
        } else {
            visited.len() as f64 / households as f64
        },
        unvisited,
        visited_households: visited,
    }))
}
